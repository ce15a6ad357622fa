import { describe, expect, it } from "vitest";
import { cronProblem, longestCronGapSeconds } from "../../core/cron";

/** Five-field cron schedules as Kubernetes CronJobs and Dragonfly's --snapshot_cron read them. */

describe("cronProblem", () => {
  it.each([
    "0 3 * * *",
    "*/30 * * * *",
    "0 0 1 1 *",
    "5,35 */2 1-15 JAN-JUN mon-fri",
    "0 0 ? * SUN",
    "0-59/15 0-23 1-31 1-12 0-6",
    "30 2 * * 1/2",
    "  0  3  *  *  *  ",
  ])("%s is a schedule", (schedule) => {
    expect(cronProblem(schedule)).toBeUndefined();
  });

  it.each([
    ["a b c d e", /bad minute field "a": "a" is not a number 0-59/],
    ["nightly", /five cron fields.*got 1 field/],
    ["0 3 * *", /got 4 fields/],
    ["0 3 * * * *", /got 6 fields/],
    ["", /got nothing/],
    ["60 * * * *", /minute field "60": 60 is outside 0-59/],
    ["0 24 * * *", /hour field "24": 24 is outside 0-23/],
    ["0 0 0 * *", /day of month field "0": 0 is outside 1-31/],
    ["0 0 * 13 *", /month field "13"/],
    ["0 0 * * 7", /day of week field "7": 7 is outside 0-6/],
    ["0 0 * FOO *", /"FOO" is not a number 1-12 or JAN-DEC/],
    ["*/0 * * * *", /step of "\*\/0" must be at least 1/],
    ["*/x * * * *", /step of "\*\/x" must be a whole number/],
    ["0 5-1 * * *", /range "5-1" runs backwards/],
    ["0 1-2-3 * * *", /not a value or a range/],
    ["0,,5 * * * *", /empty list item/],
    ["? * * * *", /only for the day-of-month and day-of-week/],
    ["*/5/2 * * * *", /more than one "\/"/],
    ["@daily", /not a nickname: write "0 0 \* \* \*"/],
  ])("%j is refused", (schedule, reason) => {
    expect(cronProblem(schedule)).toMatch(reason);
  });
});

const HOUR = 3600;
const DAY = 24 * HOUR;

describe("longestCronGapSeconds", () => {
  it.each([
    ["0 3 * * *", DAY],
    ["*/30 * * * *", 30 * 60],
    ["0 */6 * * *", 6 * HOUR],
    // 22:00 to 03:00 the next day is longer than 03:00 to 22:00.
    ["0 3,22 * * *", 19 * HOUR],
    // Friday to Monday.
    ["0 3 * * 1-5", 3 * DAY],
    ["0 3 * * mon-fri", 3 * DAY],
    // Once a week, whether written as a weekday or with ? for the day of month.
    ["0 3 ? * SUN", 7 * DAY],
    // The longest month: the 1st of each month, 31 days from the 1st of a 31-day month.
    ["0 0 1 * *", 31 * DAY],
    // Both day fields restricted: either matches, so every Monday and the 15th besides (with
    // both required, Monday the 15th, it would be months).
    ["0 0 15 * 1", 7 * DAY],
    // A step clears the star: `*/2` in the day of month is restricted, so OR with Sunday.
    ["0 0 */2 * 0", 2 * DAY],
    // N/step runs from N to the end of the field: 45 and nothing below 60, so hourly.
    ["45/30 * * * *", HOUR],
    // Feb 29th: every fourth year.
    ["0 0 29 2 *", (4 * 365 + 1) * DAY],
  ])("%s runs at least every %d s", (schedule, seconds) => {
    expect(longestCronGapSeconds(schedule)).toBe(seconds);
  });

  it("is undefined for a schedule that never runs", () => {
    expect(longestCronGapSeconds("0 0 30 2 *")).toBeUndefined();
    expect(longestCronGapSeconds("0 0 31 4,6,9,11 *")).toBeUndefined();
  });

  it("refuses a schedule that is not one", () => {
    expect(() => longestCronGapSeconds("@daily")).toThrow(/not a nickname/);
  });
});
