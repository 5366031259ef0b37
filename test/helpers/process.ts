import { spawn, type ChildProcess } from "node:child_process";
import { BIN } from "./cli.js";

export type ServeProcess = {
  child: ChildProcess;
  url: string;
  logs: string[];
  /** resolves with the exit code */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/** Starts a real `wallet serve` (or `wallet worker`) process and waits until it says it is up. */
export async function startProcess(
  command: "serve" | "worker" | "relay" | "deliver",
  env: Record<string, string>,
  readyMessage = command === "serve" ? "wallet listening" : `wallet ${command} running`,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, command], {
    env: { ...process.env, PORT: "0", LOG_LEVEL: "info", RATE_LIMIT_RPS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${logs.join("\n")}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        logs.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; port?: number };
          if (j.msg === readyMessage) {
            clearTimeout(timer);
            resolve(j.port ? `http://127.0.0.1:${j.port}` : "");
          }
        } catch {
          /* not JSON */
        }
      }
    });
    child.stderr!.on("data", (d: Buffer) => logs.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before starting:\n${logs.join("\n")}`));
    });
  });
  return {
    child,
    url,
    logs,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
