/**
 * wallet.v1, loaded from proto/wallet/v1/wallet.proto when the process starts: the
 * .proto is the one source, with no generated code to keep in step with it. The
 * server, the CLI's client and the tests load it with the same options, so that
 * int64 is a JS number both ways (money and ids stay below 2^53) and enums are names.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// src/server/grpc and dist/server/grpc are both three levels below the repository
export const PROTO_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../proto/wallet/v1/wallet.proto",
);
export const SERVICE_NAME = "wallet.v1.WalletService";

/** defaults: proto3 drops zeros on the wire; optional fields keep their presence (absent stays absent). */
export const LOAD_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: false,
};

export function loadWalletPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_PATH, LOAD_OPTIONS);
}

/** What a request that is no valid message of its type is read as: the pipeline refuses it (invalid_request). */
export const MALFORMED = Symbol("malformed request message");

/**
 * The service, its requests read leniently: bytes that are no message of the
 * method's type become { [MALFORMED]: true } instead of an exception, which grpc-js
 * would answer INTERNAL (a server fault) for what is the client's mistake.
 */
export function walletService(pkg: protoLoader.PackageDefinition): grpc.ServiceDefinition {
  const service = pkg[SERVICE_NAME] as grpc.ServiceDefinition;
  const lenient = (method: grpc.MethodDefinition<unknown, unknown>) => {
    const read = method.requestDeserialize;
    const requestDeserialize = (bytes: Buffer) => {
      try {
        return read(bytes);
      } catch {
        return { [MALFORMED]: true };
      }
    };
    return { ...method, requestDeserialize };
  };
  return Object.fromEntries(Object.entries(service).map(([name, m]) => [name, lenient(m)]));
}

/** Enum values are the JSON value in upper case after the enum's prefix: "pending" <-> "TRANSFER_STATUS_PENDING". */
export const ENUM_PREFIX = {
  transferStatus: "TRANSFER_STATUS_",
  holdStatus: "HOLD_STATUS_",
  transactionType: "TRANSACTION_TYPE_",
  direction: "DIRECTION_",
  eventType: "EVENT_TYPE_",
} as const;

export function toEnum(prefix: string, value: string): string {
  return prefix + value.toUpperCase();
}

export function fromEnum<T extends string>(prefix: string, name: unknown): T {
  return (typeof name === "string" && name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : "") as T;
}

/** Metadata keys of the wallet's own. */
export const MD = {
  errorCode: "wallet-error-code",
  /** more about a refusal, as JSON (a batch's {index, code}; limit_exceeded: limit, remaining, resets_at) */
  errorDetails: "wallet-error-details",
  resumeAfter: "wallet-resume-after",
  replayed: "idempotent-replayed",
  requestId: "x-request-id",
} as const;
