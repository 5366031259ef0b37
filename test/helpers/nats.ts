import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { STREAM, SUBJECTS } from "../../src/core/events/relay.js";
import { freePort } from "./privatePostgres.js";

/** A nats-server with JetStream of the test's own (a free port, its own store), which it may stop and start. */
export class PrivateNats {
  private child?: ChildProcess;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async create(): Promise<PrivateNats> {
    const n = new PrivateNats(await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), "wallet-nats-")));
    await n.start();
    return n;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.dir], {
      stdio: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(this.port, "127.0.0.1", () => (s.end(), resolve(true)));
        s.on("error", () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("private nats-server did not start");
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Creates the stream as the relay would, with another duplicate window. */
  async createStream(duplicateWindowMs: number): Promise<void> {
    const nc = await connect({ servers: this.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: STREAM,
      subjects: [SUBJECTS],
      storage: StorageType.File,
      duplicate_window: duplicateWindowMs * 1_000_000,
    });
    await nc.close();
  }

  /** Every message in the stream, as (user, sequence) in stream order, per wallet. */
  async readStream(): Promise<Map<number, number[]>> {
    const nc = await connect({ servers: this.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(STREAM)).state.messages;
    const byUser = new Map<number, number[]>();
    const consumer = await js.consumers.get(STREAM);
    let seen = 0;
    while (seen < total) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        const e = m.json<{ user_id: number; sequence: number }>();
        const id = m.headers?.get("Nats-Msg-Id");
        if (id !== `${e.user_id}:${e.sequence}`) throw new Error(`message id ${id} for ${e.user_id}:${e.sequence}`);
        byUser.set(e.user_id, [...(byUser.get(e.user_id) ?? []), e.sequence]);
        got++;
      }
      seen += got;
      if (got === 0) break;
    }
    await nc.close();
    return byUser;
  }
}
