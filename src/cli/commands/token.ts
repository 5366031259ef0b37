import type { Command } from "commander";
import { loadConfig, signingSecret } from "../../core/config.js";
import { signToken } from "../../server/auth.js";
import { parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput } from "../output.js";

/** `wallet token`: a bearer token for a user, signed with AUTH_SECRET (AUTH_MODE=token). */
export function registerToken(program: Command): void {
  program
    .command("token")
    .description("Print a bearer token for a user (AUTH_MODE=token; signed with AUTH_SECRET)")
    .option("-u, --user <id>", "the user id (the token's sub)")
    .option("--ttl <seconds>", "lifetime in seconds", "3600")
    .addHelpText(
      "after",
      '\nExample:\n  $ AUTH_SECRET=... wallet token --user 1 --ttl 600\n  $ curl -H "Authorization: Bearer $(wallet token --user 1)" localhost:8080/api/wallet/balance/v1',
    )
    .action(async (opts: { user?: string; ttl: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (opts.user === undefined) throw new UsageError("missing --user");
      const user = parseIntArg(opts.user, "--user");
      const ttl = parseIntArg(opts.ttl, "--ttl");
      const secret = signingSecret(loadConfig(), "wallet token");
      const token = await signToken(secret, user, ttl);
      out.result({ token, user_id: user, expires_at: new Date(Date.now() + ttl * 1000).toISOString() }, () => token);
    });
}
