/** A batch's body: 1..100 operations, each validated on its own so that a 400 names its index. */
import { z } from "zod";
import { BATCH_MAX_OPERATIONS } from "../core/batches.js";
import { Amount, CaptureBody, ExchangeBody, HoldBody, TransferBody, UserId } from "./schemas.js";
import { Currency } from "./fxSchemas.js";
import { TagFields } from "./tagSchemas.js";

const HoldRef = z
  .string({ error: "must be a hold id, or $i naming the hold operation i of this batch places" })
  .regex(/^([0-9]{1,19}|\$[0-9]{1,3})$/, {
    error: "must be a hold id, or $i naming the hold operation i of this batch places",
  });

export const BatchOperation = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("deposit"), amount: Amount, currency: Currency.optional(), ...TagFields }),
    z.strictObject({ type: z.literal("withdraw"), amount: Amount, currency: Currency.optional(), ...TagFields }),
    TransferBody.extend({ type: z.literal("transfer"), destination_user_id: UserId }),
    HoldBody.extend({ type: z.literal("hold") }),
    CaptureBody.extend({ type: z.literal("capture"), hold_id: HoldRef }),
    z.strictObject({ type: z.literal("void"), hold_id: HoldRef, ...TagFields }),
    ExchangeBody.extend({ type: z.literal("exchange") }),
  ],
  { error: "type must be deposit, withdraw, transfer, hold, capture, void or exchange" },
);
export type BatchOperationBody = z.infer<typeof BatchOperation>;

export const BatchBody = z.strictObject({
  operations: z
    .array(z.record(z.string(), z.unknown()), { error: "must be an array of operations (JSON objects)" })
    .min(1, { error: "a batch has at least 1 operation" })
    .max(BATCH_MAX_OPERATIONS, { error: `a batch has at most ${BATCH_MAX_OPERATIONS} operations` })
    .meta({
      description:
        "1..100 operations, applied in order, all or none: each {type: deposit|withdraw|transfer|hold|capture|void|exchange, ...the fields of its own route}; hold_id may be $i (the hold operation i places)",
    }),
});

export const BatchResponse = z.object({
  batch_id: z.string().regex(/^[0-9]+$/),
  results: z.array(z.record(z.string(), z.unknown())).meta({ description: "each operation's answer, as its route's" }),
});
