/**
 * The real `wallet` process on a terminal (tmux): it prompts for what is missing,
 * refuses what is invalid, and asks before it moves money.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ env, drop: cleanup } = await processDatabase());
});
afterAll(() => cleanup());

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });

describe("on a terminal", () => {
  it("asks for missing arguments and for confirmation", async () => {
    expect((await cli(["seed", "--users", "2", "--balance", "1000", "--first", "100"])).code).toBe(0);
    const session = `wallet-${process.pid}-${engine}`;
    const { execFileSync } = await import("node:child_process");
    const { BIN } = await import("./helpers/cli.js");
    const envArgs = Object.entries({ ...env, NO_COLOR: "1", WALLET_API_URL: "" }).flatMap(([k, v]) => [
      "-e",
      `${k}=${v}`,
    ]);
    const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
    tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "120",
      "-y",
      "30",
      ...envArgs,
      `${process.execPath} ${BIN} transfer --from 100 --to 101; sleep 30`,
    );
    const screen = async (pattern: RegExp) => {
      for (let i = 0; i < 100; i++) {
        const text = tmux("capture-pane", "-p", "-t", session);
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`never saw ${pattern}:\n${tmux("capture-pane", "-p", "-t", session)}`);
    };
    try {
      await screen(/Amount in cents/);
      tmux("send-keys", "-t", session, "abc", "Enter");
      await screen(/^\? Amount in cents: abc\n> amount must be a positive whole number/m);
      tmux("send-keys", "-t", session, "BSpace", "BSpace", "BSpace", "0", "Enter");
      // a screen that is new: the refusal under the value 0 (the one under "abc" is still
      // shown until then); keys sent while the prompt validates would be dropped
      const refused = await screen(/^\? Amount in cents: 0\n> amount must be a positive whole number/m);
      expect(refused).not.toMatch(/Transfer 0 cents/);
      tmux("send-keys", "-t", session, "BSpace", "25", "Enter");
      await screen(/Transfer 25 cents \(\$0\.25\) from wallet 100 to wallet 101\?/);
      tmux("send-keys", "-t", session, "y", "Enter");
      const done = await screen(/Transferred/);
      expect(done).toMatch(/Transferred 25/);
    } finally {
      tmux("kill-session", "-t", session);
    }
  });
});
