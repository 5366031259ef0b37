/**
 * Exchange rates as the operator writes them: validated and made canonical exactly (an
 * integer and a power of ten, BigInt), never through a binary float. The conversion
 * itself is done by the database in numeric (wallet_op_quote).
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
