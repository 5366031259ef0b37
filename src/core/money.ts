/** Money is an integer number of cents, end to end: never a float. */
export const MAX_CENTS = Number.MAX_SAFE_INTEGER; // 2^53-1, the largest exact JSON number

/** Parses a decimal integer string strictly ("12", not "12abc", "1.0" or " 12"). */
export function parsePositiveInt(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** 1170 -> "$11.70" (display only). */
export function formatCurrency(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const abs = BigInt(Math.abs(cents));
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = (abs % 100n).toString().padStart(2, "0");
  return `${sign}$${whole}.${frac}`;
}
