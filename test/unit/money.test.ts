/** Amounts are integer cents: strict parsing and display. */
import { describe, expect, it } from "vitest";
import { formatCurrency, MAX_CENTS, parsePositiveInt } from "../../src/core/money.js";

describe("parsePositiveInt", () => {
  it.each(["12", "1", String(MAX_CENTS)])("accepts %s", (text) => {
    expect(parsePositiveInt(text)).toBe(Number(text));
  });

  it.each(["0", "12abc", "1.0", " 12", "-1", "", "1e3", String(MAX_CENTS + 1)])("refuses %j", (text) => {
    expect(parsePositiveInt(text)).toBeUndefined();
  });
});

describe("formatCurrency", () => {
  it.each([
    [1170, "$11.70"],
    [5, "$0.05"],
    [0, "$0.00"],
    [-250, "-$2.50"],
    [123456789, "$1,234,567.89"],
    [MAX_CENTS, "$90,071,992,547,409.91"],
  ])("shows %i cents as %s", (cents, text) => {
    expect(formatCurrency(cents)).toBe(text);
  });
});
