/**
 * Arguments: strict parsing (a malformed amount or id is a usage error, exit 2) and,
 * on a terminal, a prompt for whatever is missing.
 */
import { confirm, input } from "@inquirer/prompts";
import type { Command } from "commander";
import { CURRENCY_PATTERN } from "../core/currency.js";
import { parseInstant } from "../core/isoDate.js";
import { parsePositiveInt } from "../core/money.js";
import { UsageError } from "./errors.js";

export function parseIntArg(value: string, name: string): number {
  const n = parsePositiveInt(value.trim());
  if (n === undefined) throw new UsageError(`${name} must be a positive whole number (got '${value}')`);
  return n;
}

/** "2026-11-01" or a full ISO 8601 instant, as the API takes it (one parser); anything else exit 2. */
export function parseInstantArg(value: string, name: string): Date {
  const d = parseInstant(value);
  if (!d) throw new UsageError(`${name} must be an ISO 8601 date or instant (a real date, years 0001-9999)`);
  return d;
}

/** The value given, or asked for on a terminal; without one, a usage error naming it. */
export async function need(
  value: string | undefined,
  name: string,
  question: string,
  interactive: boolean,
): Promise<number> {
  if (value !== undefined) return parseIntArg(value, name);
  if (!interactive) throw new UsageError(`missing ${name}`);
  const answer = await input({
    message: question,
    validate: (v) => (parsePositiveInt(v.trim()) === undefined ? `${name} must be a positive whole number` : true),
  });
  return parseIntArg(answer, name);
}

/**
 * --currency and its kin: the shape only (three capital letters, else exit 2); whether
 * the code is an accepted ISO 4217 currency is the server's (or the core's) to judge.
 */
export function parseCurrencyArg(value: string | undefined, name = "--currency"): string | undefined {
  if (value === undefined) return undefined;
  if (!CURRENCY_PATTERN.test(value))
    throw new UsageError(`${name} must be a currency code of three capital letters, such as USD (got '${value}')`);
  return value;
}

/** The --currency option of a money or read command. */
export function currencyOption(c: Command): Command {
  return c.option("--currency <code>", "ISO 4217 code, such as EUR (default: DEFAULT_CURRENCY)");
}

export async function confirmOrAbort(message: string, yes: boolean | undefined, interactive: boolean): Promise<void> {
  if (yes || !interactive) return;
  if (!(await confirm({ message, default: false }))) throw new UsageError("cancelled");
}
