import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * A PostgreSQL cluster of the test's own (initdb into a temp dir, its own port, its
 * own socket dir), which the test may stop, crash and start again. Never the shared
 * server. Runs as the postgres OS user, as PostgreSQL requires.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-pg-"));
    await run("chown", ["postgres:postgres", dir]);
    const data = path.join(dir, "data");
    await run("runuser", ["-u", "postgres", "--", `${BIN}/initdb`, "-D", data, "-A", "trust", "-U", "postgres"]);
    const pg = new PrivatePostgres(dir, await freePort());
    await pg.start();
    return pg;
  }

  url(database = "postgres", port = this.port): string {
    return `postgres://postgres@127.0.0.1:${port}/${database}`;
  }

  private ctl(...args: string[]) {
    return run("runuser", ["-u", "postgres", "--", `${BIN}/pg_ctl`, "-D", path.join(this.dir, "data"), ...args]);
  }

  async start(): Promise<void> {
    await this.ctl(
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      "-l",
      path.join(this.dir, "log"),
      "-w",
      "start",
    );
  }

  /** fast: a clean shutdown (sessions are ended); immediate: a crash (recovery at the next start). */
  async stop(mode: "fast" | "immediate"): Promise<void> {
    await this.ctl("-m", mode, "-w", "stop");
  }

  async psql(sql: string, database = "postgres"): Promise<string> {
    const { stdout } = await run("psql", [this.url(database), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]);
    return stdout.trim();
  }

  async destroy(): Promise<void> {
    await this.stop("immediate").catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
