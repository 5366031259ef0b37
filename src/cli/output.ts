/**
 * Output for people and for machines. --json prints exactly one JSON document on
 * stdout; otherwise tables and colour, and no colour when stdout is not a terminal
 * or NO_COLOR is set.
 */
import chalk from "chalk";
import { loadClientConfig } from "../core/config.js";
import { formatMinor } from "../core/currency.js";
import { formatCurrency } from "../core/money.js";

export type Output = {
  json: boolean;
  color: boolean;
  interactive: boolean;
  /** the command's result: JSON, or the human rendering */
  result(value: unknown, human: () => string): void;
  info(line: string): void;
};

export function createOutput(json: boolean): Output {
  const color = !json && Boolean(process.stdout.isTTY) && loadClientConfig().color;
  chalk.level = color ? chalk.level || 1 : 0;
  return {
    json,
    color,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    result(value, human) {
      process.stdout.write(json ? JSON.stringify(value) + "\n" : human() + "\n");
    },
    info(line) {
      if (!json) process.stderr.write(line + "\n");
    },
  };
}

/** 1170 USD -> "$11.70"; 1170 EUR -> "11.70 EUR"; 500 JPY -> "500 JPY" (display only) */
export function amountIn(amount: number, currency = "USD"): string {
  return currency === "USD" ? formatCurrency(amount) : `${formatMinor(amount, currency)} ${currency}`;
}

/** 1170 -> "1170  $11.70"; 1170 in EUR -> "1170  11.70 EUR" (minor units, then the amount shown) */
export function money(amount: number, currency?: string): string {
  return `${amount}  ${chalk.dim(amountIn(amount, currency))}`;
}

/** "2026-11-29T14:00:00.123Z" -> "2026-11-29 14:00:00Z" */
export function when(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}
