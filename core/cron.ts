/**
 * Five-field cron schedules (`minute hour day-of-month month day-of-week`) as the platform's two
 * readers take them: Kubernetes CronJobs (robfig/cron's standard parser) and Dragonfly's
 * `--snapshot_cron`. Each field is `*` (or `?` in the day fields), a number in range, a range
 * `a-b`, any of those with a step `/n` (every n-th), or a comma-separated list of them; months and weekdays
 * may be named (`JAN`, `mon-fri`). Nicknames such as `@daily` are refused: Dragonfly does not
 * read them. A malformed schedule is otherwise accepted by the API server and fails only when the
 * controller or Dragonfly parses it.
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** `?` means "any" in the two day fields. */
  question?: boolean;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** The five fields in order, with their ranges (day of week 0-6, Sunday 0, as both readers have it). */
export const CRON_FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31, question: true },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 6, names: WEEKDAYS, question: true },
];

const NICKNAMES: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/**
 * Why `schedule` is not a five-field cron schedule, naming the field and the value, or undefined
 * when it is one.
 */
export function cronProblem(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  const nickname = NICKNAMES[trimmed.toLowerCase()];
  if (nickname !== undefined) {
    return `must be five cron fields, not a nickname: write "${nickname}" for ${trimmed}`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) {
    return (
      `must be five cron fields (minute hour day-of-month month day-of-week) such as ` +
      `"0 3 * * *" (got ${trimmed === "" ? "nothing" : `${fields.length} field${fields.length === 1 ? "" : "s"}`} in "${schedule}")`
    );
  }
  for (const [index, text] of fields.entries()) {
    const field = CRON_FIELDS[index];
    const problem = fieldProblem(field, text);
    if (problem) return `has a bad ${field.name} field "${text}": ${problem} (in "${schedule}")`;
  }
  return undefined;
}

/** Why one field is wrong, or undefined. */
function fieldProblem(field: CronField, text: string): string | undefined {
  for (const item of text.split(",")) {
    const problem = itemProblem(field, item);
    if (problem) return problem;
  }
  return undefined;
}

/** One list item: `*`, `?`, `a`, `a-b`, each optionally `/step`. */
function itemProblem(field: CronField, item: string): string | undefined {
  if (item === "") return "an empty list item";
  const [range, step, ...extra] = item.split("/");
  if (extra.length > 0) return `"${item}" has more than one "/"`;
  if (step !== undefined && !/^\d+$/.test(step)) {
    return `the step of "${item}" must be a whole number`;
  }
  if (step !== undefined && Number(step) < 1) return `the step of "${item}" must be at least 1`;
  if (range === "*") return undefined;
  if (range === "?") {
    return field.question && step === undefined
      ? undefined
      : `"?" is only for the day-of-month and day-of-week fields, without a step`;
  }
  const bounds = range.split("-");
  if (bounds.length > 2) return `"${range}" is not a value or a range a-b`;
  const values: number[] = [];
  for (const bound of bounds) {
    const value = valueOf(field, bound);
    if (typeof value === "string") return value;
    values.push(value);
  }
  if (values.length === 2 && values[0] > values[1]) {
    return `the range "${range}" runs backwards (${values[0]} > ${values[1]})`;
  }
  return undefined;
}

/** A number or name in the field's range, or why it is not one. */
function valueOf(field: CronField, text: string): number | string {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + field.min;
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : "";
    return `"${text}" is not a number ${field.min}-${field.max}${names}`;
  }
  const value = Number(text);
  if (value < field.min || value > field.max) {
    return `${value} is outside ${field.min}-${field.max}`;
  }
  return value;
}

/** One field expanded: the values it matches, and whether it was `*`/`?` (robfig's star bit). */
interface ExpandedField {
  values: Set<number>;
  star: boolean;
}

/**
 * The values a valid field matches, as robfig/cron reads it: `N/step` runs from N to the field's
 * end, and a field is a "star" only when it is `*` or `?` without a step above 1.
 */
function expandField(field: CronField, text: string): ExpandedField {
  const values = new Set<number>();
  let star = false;
  for (const item of text.split(",")) {
    const [range, stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let low = field.min;
    let high = field.max;
    if (range === "*" || range === "?") {
      star ||= step === 1;
    } else {
      const bounds = range.split("-").map((bound) => valueOf(field, bound) as number);
      low = bounds[0];
      high = bounds.length === 2 ? bounds[1] : stepText === undefined ? low : field.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return { values, star };
}

const MINUTES_PER_DAY = 24 * 60;
/** 28 years from 2001: the weekdays and leap days of the Gregorian calendar repeat after them. */
const CYCLE_START = Date.UTC(2001, 0, 1);
const CYCLE_DAYS = 28 * 365 + 7;

/**
 * The longest time between two consecutive runs of a valid schedule, in seconds, in UTC (the
 * platform's CronJobs run in Etc/UTC): e.g. 86400 for `0 3 * * *`, 259200 for `0 3 * * 1-5`
 * (Friday to Monday). Days match as the CronJob controller's parser has them: when both day
 * fields are restricted, a day matching either runs. Undefined when the schedule never runs
 * (`0 0 30 2 *`). Throws for a schedule {@link cronProblem} refuses.
 */
export function longestCronGapSeconds(schedule: string): number | undefined {
  const problem = cronProblem(schedule);
  if (problem) throw new Error(`longestCronGapSeconds: the schedule ${problem}`);
  const [minute, hour, dom, month, dow] = schedule
    .trim()
    .split(/\s+/)
    .map((text, index) => expandField(CRON_FIELDS[index], text));
  const times = [...hour.values]
    .sort((a, b) => a - b)
    .flatMap((h) => [...minute.values].sort((a, b) => a - b).map((m) => h * 60 + m));
  const runs = (day: Date) => {
    const inDom = dom.values.has(day.getUTCDate());
    const inDow = dow.values.has(day.getUTCDay());
    const dayMatches = dom.star || dow.star ? inDom && inDow : inDom || inDow;
    return dayMatches && month.values.has(day.getUTCMonth() + 1);
  };
  // Within a day the runs are the same every day; between days, from a day's last run to the
  // next running day's first. Two cycles, so the gap from one cycle into the next counts too.
  let longest = Math.max(0, ...times.slice(1).map((time, index) => time - times[index]));
  let previous: number | undefined;
  for (let day = 0; day < 2 * CYCLE_DAYS; day++) {
    if (!runs(new Date(CYCLE_START + day * MINUTES_PER_DAY * 60_000))) continue;
    if (previous !== undefined) {
      longest = Math.max(
        longest,
        (day - previous) * MINUTES_PER_DAY + times[0] - times[times.length - 1],
      );
    }
    previous = day;
  }
  return previous === undefined ? undefined : longest * 60;
}
