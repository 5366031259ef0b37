/**
 * Currencies: ISO 4217 alphabetic codes and their minor units, from the
 * currency-codes package (ISO 4217 list one, as published by the maintenance
 * agency; Intl's CLDR digits differ for some currencies, so they are not used).
 * A wallet is (user, currency); amounts are integers of the currency's minor unit.
 */
import iso from "currency-codes";
import { WalletError } from "./errors.js";

/** DEFAULT_CURRENCY's default, and the currency of a core opened without one (tests, scripts). */
export const FALLBACK_CURRENCY = "USD";

/** The shape of a code: three capital letters. */
export const CURRENCY_PATTERN = /^[A-Z]{3}$/;

/**
 * Codes of list one that name no currency a wallet can hold: XXX ("no currency") and
 * XTS (reserved for testing).
 */
const NOT_MONEY = new Set(["XXX", "XTS"]);

const DIGITS = new Map<string, number>(
  iso.data.filter((c) => !NOT_MONEY.has(c.code)).map((c) => [c.code, c.digits] as const),
);

/** Every active ISO 4217 code a wallet may hold, sorted. */
export const ISO_CURRENCIES: readonly string[] = [...DIGITS.keys()].sort();

/** The ISO 4217 minor unit digits of an active code (USD 2, JPY 0, BHD 3); undefined for any other string. */
export function minorDigits(code: string): number | undefined {
  return DIGITS.get(code);
}

export function isIsoCurrency(code: string): boolean {
  return DIGITS.has(code);
}

/**
 * The currencies this service accepts: every active code, or the set CURRENCIES
 * names; the default is one of them.
 */
export class CurrencySet {
  private readonly allowed: ReadonlySet<string> | null;

  constructor(
    readonly defaultCurrency: string,
    allowed?: readonly string[],
  ) {
    this.allowed = allowed && allowed.length > 0 ? new Set(allowed) : null;
  }

  /** The codes accepted, sorted. */
  list(): string[] {
    return this.allowed ? [...this.allowed].sort() : [...ISO_CURRENCIES];
  }

  accepts(code: string): boolean {
    return isIsoCurrency(code) && (this.allowed === null || this.allowed.has(code));
  }

  /**
   * A request's currency: absent is the default; a string that is not an active ISO
   * 4217 code is 400 invalid_request; an active code outside the set is 422
   * currency_not_supported.
   */
  resolve(given: unknown, field = "currency"): string {
    if (given === undefined || given === null) return this.defaultCurrency;
    if (typeof given !== "string" || !CURRENCY_PATTERN.test(given) || !isIsoCurrency(given)) {
      throw new WalletError("invalid_request", `${field}: must be an active ISO 4217 currency code, such as USD`);
    }
    if (!this.accepts(given)) {
      throw new WalletError("currency_not_supported", `${field}: ${given} is not accepted by this service.`);
    }
    return given;
  }
}

/** 1170 in USD -> "11.70"; 500 in JPY -> "500" (display only: a decimal string, never a float). */
export function formatMinor(amount: number, code: string): string {
  const digits = minorDigits(code) ?? 2;
  const sign = amount < 0 ? "-" : "";
  const abs = BigInt(Math.abs(amount));
  if (digits === 0) return `${sign}${abs}`;
  const unit = 10n ** BigInt(digits);
  return `${sign}${abs / unit}.${(abs % unit).toString().padStart(digits, "0")}`;
}
