/**
 * A wallet.v1 message as the HTTP API's JSON: enums by their lower-case names, absent
 * nullable fields null, and the keys in the order the HTTP API writes them, so that a
 * client (the CLI over grpc://) prints the same whichever protocol carried an answer.
 */
import type * as protoLoader from "@grpc/proto-loader";
import { fromEnum } from "./proto.js";

type Msg = Record<string, unknown>;

/** Answers of wallet_apply: the database's jsonb, whose keys come shortest first, then by bytes. */
const JSONB_ORDERED = new Set([
  "DepositResponse",
  "WithdrawResponse",
  "TransferResponse",
  "CreateHoldResponse",
  "CaptureHoldResponse",
  "VoidHoldResponse",
  "CreateQuoteResponse",
  "ExchangeResponse",
]);
/** Balances: the currency first, as /balance/v1 and /balances/v1 write it. */
const CURRENCY_FIRST = new Set(["GetBalanceResponse", "CurrencyBalance"]);

const jsonbOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/** The HTTP API's order of a message's keys, from its declared fields. */
export function httpOrder(type: string, fields: string[]): string[] {
  if (JSONB_ORDERED.has(type)) return [...fields].sort(jsonbOrder);
  if (!fields.includes("currency")) return fields;
  const rest = fields.filter((f) => f !== "currency");
  if (CURRENCY_FIRST.has(type)) return ["currency", ...rest];
  // elsewhere the currency follows the amount it is the unit of
  const i = rest.indexOf("amount");
  return i === -1 ? fields : [...rest.slice(0, i + 1), "currency", ...rest.slice(i + 1)];
}

/** Every message of the package by its short name, its fields in the HTTP API's order. */
export function fieldOrders(pkg: protoLoader.PackageDefinition): Map<string, string[]> {
  return new Map(
    Object.entries(pkg)
      .filter(([name, d]) => name.startsWith("wallet.v1.") && d.format === "Protocol Buffer 3 DescriptorProto")
      .map(([name, d]) => {
        const type = name.slice("wallet.v1.".length);
        return [
          type,
          httpOrder(
            type,
            (d.type as { field: { name: string }[] }).field.map((f) => f.name),
          ),
        ];
      }),
  );
}

/** The JSON of m, a message of type: enums (field -> prefix) as names, nullable fields null when absent. */
export function toJson<T>(
  orders: Map<string, string[]>,
  type: string,
  m: Msg,
  enums: Record<string, string> = {},
  nullable: readonly string[] = [],
): T {
  const out: Msg = {};
  for (const f of orders.get(type) ?? Object.keys(m)) {
    if (m[f] !== undefined && m[f] !== null) out[f] = f in enums ? fromEnum(enums[f]!, m[f]) : m[f];
    else if (nullable.includes(f)) out[f] = null;
  }
  return out as T;
}
