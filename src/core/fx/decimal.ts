/**
 * Exact decimal arithmetic for exchange rates: a rate is an integer and a power of ten
 * (BigInt), never a binary float, so that a conversion is exact for every amount up to
 * 2^53-1 and every rate of up to 12 significant digits.
 */

/** A rate as given: "0.9215", "151.237", "1e-3" is not accepted (plain decimals only). */
const RATE_PATTERN = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

/** The most significant digits a rate may have (leading and trailing zeros not counted). */
export const MAX_RATE_DIGITS = 12;

export type Rate = { units: bigint; scale: number };

/**
 * Parses a rate: a decimal string > 0 with at most 12 significant digits. Returns
 * undefined for anything else. "0.92150" and "0.9215" are the same rate.
 */
export function parseRate(text: string): Rate | undefined {
  if (typeof text !== "string" || text.length > 64 || !RATE_PATTERN.test(text)) return undefined;
  const [whole = "", frac = ""] = text.split(".");
  const trimmedFrac = frac.replace(/0+$/, "");
  const units = BigInt(whole + trimmedFrac);
  if (units === 0n) return undefined;
  const significant = units.toString().replace(/0+$/, "").length;
  if (significant > MAX_RATE_DIGITS) return undefined;
  return { units, scale: trimmedFrac.length };
}

/** The rate's canonical text: no trailing zeros after the point, no point for a whole number. */
export function formatRate(r: Rate): string {
  if (r.scale === 0) return r.units.toString();
  const s = r.units.toString().padStart(r.scale + 1, "0");
  return `${s.slice(0, -r.scale)}.${s.slice(-r.scale)}`;
}

/**
 * floor(amount x rate x 10^(toDigits - fromDigits)), exactly: amount minor units of
 * the from currency, the rate in major units, the answer in minor units of to.
 */
export function convert(amount: bigint, rate: Rate, fromDigits: number, toDigits: number): bigint {
  let numerator = amount * rate.units;
  let denominator = 10n ** BigInt(rate.scale);
  const shift = toDigits - fromDigits;
  if (shift >= 0) numerator *= 10n ** BigInt(shift);
  else denominator *= 10n ** BigInt(-shift);
  return numerator / denominator; // both positive: BigInt division rounds toward zero, which is floor
}
