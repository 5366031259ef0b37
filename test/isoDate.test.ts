/** The one parser of dates and instants (HTTP from/to/at, gRPC at, the CLI's --from/--to/--at). */
import { expect, it } from "vitest";
import { parseInstant } from "../src/core/isoDate.js";

const valid: Array<[string, string]> = [
  ["2026-11-01", "2026-11-01T00:00:00.000Z"],
  ["2024-02-29", "2024-02-29T00:00:00.000Z"],
  ["2000-02-29", "2000-02-29T00:00:00.000Z"],
  ["0001-01-01", "0001-01-01T00:00:00.000Z"],
  ["9999-12-31", "9999-12-31T00:00:00.000Z"],
  ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
  ["2026-11-01T12:30Z", "2026-11-01T12:30:00.000Z"],
  ["2026-11-01T12:30:45Z", "2026-11-01T12:30:45.000Z"],
  ["2026-11-01T12:30:45.678Z", "2026-11-01T12:30:45.678Z"],
  ["2026-11-01T12:30:45+02:00", "2026-11-01T10:30:45.000Z"],
  ["2026-11-01T12:30:45-0130", "2026-11-01T14:00:45.000Z"],
];

const invalid = [
  "2026-02-30", // no such day (JavaScript's Date reads it as 2 March)
  "2026-02-29", // not a leap year
  "1900-02-29", // nor is 1900
  "2026-04-31",
  "2026-13-01",
  "2026-00-10",
  "2026-01-00",
  "0000-01-01", // year 0: PostgreSQL refuses it (22008)
  "0001-01-01T00:00:00+01:00", // 31 December of year 0 in UTC
  "9999-12-31T23:00:00-02:00", // year 10000 in UTC
  "+010000-01-01",
  "-000001-01-01",
  "2026-11-01T24:00Z",
  "2026-11-01T12:60Z",
  "2026-11-01T12:30:60Z",
  "2026-11-01T12:30+24:00",
  "2026-11-01T12",
  "2026-11-01 12:30Z",
  "2026-1-01",
  "20261101",
  "2026-11-01Z",
  " 2026-11-01",
  "2026-11-01\n",
  "",
  "tomorrow",
  "1",
];

it.each(valid)("reads %s as %s", (text, iso) => {
  expect(parseInstant(text)?.toISOString()).toBe(iso);
});

it.each(invalid.map((t) => [JSON.stringify(t)] as const))("refuses %s", (quoted) => {
  expect(parseInstant(JSON.parse(quoted) as string)).toBeUndefined();
});
