/**
 * Errors as gRPC statuses: the status from the one error table (grpcStatusOf), the
 * wallet's code in trailing metadata, the same messages as HTTP. What is not a
 * WalletError is never shown: logged under the request id, answered INTERNAL.
 */
import * as grpc from "@grpc/grpc-js";
import { isUnavailable } from "../../core/db/errors.js";
import { ERROR_CODES, grpcStatusOf, WalletError, type ErrorCode } from "../../core/errors.js";
import type { Logger } from "../logger.js";
import { MD } from "./proto.js";

export type GrpcStatus = { code: grpc.status; details: string; metadata: grpc.Metadata };

/** A status for an error code; extra: metadata gathered during the call (request id, rate limit). */
export function walletStatus(code: ErrorCode, message: string, extra?: grpc.Metadata): GrpcStatus {
  const metadata = extra ? extra.clone() : new grpc.Metadata();
  metadata.set(MD.errorCode, code);
  return { code: grpcStatusOf(code), details: message, metadata };
}

/** The status a failed call answers with. */
export function statusOf(err: unknown, log: Logger, where: Record<string, unknown>, extra?: grpc.Metadata): GrpcStatus {
  if (err instanceof WalletError && err.code !== "unavailable") {
    const s = walletStatus(err.code, err.message, extra);
    if (err.details) s.metadata.set(MD.errorDetails, JSON.stringify(err.details));
    return s;
  }
  if (err instanceof WalletError || isUnavailable(err)) {
    // the database is away: temporary; a write may have been applied (retry it with its key)
    const s = walletStatus("unavailable", ERROR_CODES.unavailable.message, extra);
    s.metadata.set("retry-after", "1");
    return s;
  }
  log.error({ err, ...where }, "request failed");
  return walletStatus("internal", ERROR_CODES.internal.message, extra);
}

/** Statuses a person reading the logs should see without turning on debug, as 5xx are over HTTP. */
export function isServerFault(code: grpc.status): boolean {
  return code === grpc.status.INTERNAL || code === grpc.status.UNAVAILABLE || code === grpc.status.UNKNOWN;
}
