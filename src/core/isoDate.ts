/**
 * The one parser of the dates and instants the API and the CLI take (`from`, `to`,
 * `at`): strict ISO 8601, "2026-11-01" or "2026-11-01T12:30[:45[.678]][Z|±hh[:]mm]".
 *
 * JavaScript's Date reads "2026-02-30" as 2 March and takes year 0000, which
 * PostgreSQL then refuses (SQLSTATE 22008, a 500). Here a calendar date that does not
 * exist is no date, and the instant must fall within years 0001-9999 in UTC (an
 * offset may move a date across the edge), which both PostgreSQL and the embedded
 * database store.
 */

const FORM = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/;

const MIN = Date.parse("0001-01-01T00:00:00Z");
const MAX = Date.parse("9999-12-31T23:59:59.999Z");

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The instant, or undefined when the text is not a strict ISO 8601 date or date-time in 0001-9999. */
export function parseInstant(text: string): Date | undefined {
  const m = FORM.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return undefined;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return undefined;
  const ms = Date.parse(text);
  if (isNaN(ms) || ms < MIN || ms > MAX) return undefined;
  return new Date(ms);
}
