/**
 * Arguments: strict parsing (a malformed amount or id is a usage error, exit 2) and,
 * on a terminal, a prompt for whatever is missing.
 */
import { confirm, input } from "@inquirer/prompts";
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

export async function confirmOrAbort(message: string, yes: boolean | undefined, interactive: boolean): Promise<void> {
  if (yes || !interactive) return;
  if (!(await confirm({ message, default: false }))) throw new UsageError("cancelled");
}
