/** The JetStream stream the relay publishes to: its name, subjects, creation, and where a wallet's subject got to. */
import { StorageType, type JetStreamManager } from "@nats-io/jetstream";

export const STREAM = "WALLET_EVENTS";
export const SUBJECTS = "wallet.events.*";
export const subjectOf = (userId: number) => `wallet.events.${userId}`;

/** Creates the stream (file storage) when it is missing; an existing one is left as it is. */
export async function ensureStream(jsm: JetStreamManager, duplicateWindowMs: number): Promise<void> {
  try {
    await jsm.streams.info(STREAM);
  } catch {
    await jsm.streams.add({
      name: STREAM,
      subjects: [SUBJECTS],
      storage: StorageType.File,
      duplicate_window: duplicateWindowMs * 1_000_000,
    });
  }
}

/**
 * The last event of the wallet in the stream (its Nats-Msg-Id is `<user>:<seq>`) and
 * that message's stream sequence; zeros when the subject has none.
 */
export async function lastPublished(
  jsm: JetStreamManager,
  userId: number,
): Promise<{ published: number; streamSeq: number }> {
  const last = await jsm.streams.getMessage(STREAM, { last_by_subj: subjectOf(userId) });
  const id = last?.header.get("Nats-Msg-Id");
  return { published: last && id ? Number(id.split(":")[1]) : 0, streamSeq: last?.seq ?? 0 };
}
