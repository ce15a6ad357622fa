import { describe, expect, it } from "vitest";
import { cronProblem } from "../../core/cron";

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
