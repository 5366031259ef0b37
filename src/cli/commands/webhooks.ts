/** `wallet webhooks ...` and `wallet monitors ...`: endpoints, deliveries, balance monitors. */
import type { Command } from "commander";
import Table from "cli-table3";
import { EVENT_TYPES } from "../../core/events/format.js";
import { parseCurrencyArg, parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput, type Output } from "../output.js";
import { withWebhooks } from "../webhookClient.js";

const HELP =
  "\nDirect mode (the database) records --actor (else your OS user name); with --api <url> it uses the admin\n" +
  "API with WALLET_ADMIN_TOKEN and --actor as X-Actor. Changes are written to the audit log.";

function table(out: Output, head: string[]): Table.Table {
  return new Table({ head, style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] } });
}

type Opts = { actor?: string; events?: string; description?: string; status?: string; after?: string; limit?: string };

function eventTypes(v: string | undefined): string[] {
  if (v === undefined) return ["*"];
  const types = v.split(",").map((t) => t.trim());
  const bad = types.find((t) => t !== "*" && !(EVENT_TYPES as readonly string[]).includes(t));
  if (bad) throw new UsageError(`--events: unknown event type ${bad} (one of *, ${EVENT_TYPES.join(", ")})`);
  return types;
}

export function registerWebhooks(program: Command): void {
  const hooks = program
    .command("webhooks")
    .description("Webhook endpoints: events POSTed to your backend, signed, in order per user");
  const act = (c: Command) => c.option("--actor <name>", "who acts (default: the OS user)").addHelpText("after", HELP);

  act(hooks.command("add <url>").description("Add an endpoint; prints its secret (shown only now)"))
    .option("--events <types>", "comma-separated event types (default: * for all)")
    .option("--description <text>", "a note for people")
    .action(async (url: string, opts: Opts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withWebhooks(cmd, opts.actor, async (c) => {
        const e = await c.add(url, eventTypes(opts.events), opts.description);
        out.result(e, () => `webhook ${e.id} -> ${e.url} (${e.event_types.join(",")})\nsecret ${e.secret}`);
      });
    });

  act(hooks.command("list").description("The endpoints")).action(async (opts: Opts, cmd: Command) => {
    const out = createOutput(globals(cmd).json);
    await withWebhooks(cmd, opts.actor, async (c) => {
      const r = await c.list();
      out.result(r, () => {
        const t = table(out, ["id", "url", "events", "created"]);
        for (const e of r.webhooks) t.push([e.id, e.url, e.event_types.join(","), e.created_at]);
        return t.toString();
      });
    });
  });

  act(hooks.command("remove <id>").description("Remove an endpoint: nothing more is sent to it")).action(
    async (id: string, opts: Opts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withWebhooks(cmd, opts.actor, async (c) => {
        await c.remove(id);
        out.result({ id, removed: true }, () => `webhook ${id} removed`);
      });
    },
  );

  act(hooks.command("rotate <id>").description("A new secret; the old one signs beside it for 24 h")).action(
    async (id: string, opts: Opts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withWebhooks(cmd, opts.actor, async (c) => {
        const r = await c.rotate(id);
        out.result(r, () => `secret ${r.secret}`);
      });
    },
  );

  act(hooks.command("deliveries <id>").description("An endpoint's deliveries, oldest first"))
    .option("--status <status>", "pending, delivered or failed")
    .option("--after <delivery-id>", "the page after this delivery")
    .option("--limit <n>", "1..1000 (default 100)")
    .action(async (id: string, opts: Opts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (opts.status && !["pending", "delivered", "failed"].includes(opts.status))
        throw new UsageError("--status must be pending, delivered or failed");
      const limit = opts.limit === undefined ? undefined : parseIntArg(opts.limit, "--limit");
      await withWebhooks(cmd, opts.actor, async (c) => {
        const r = await c.deliveries(id, opts.status, opts.after, limit);
        out.result(r, () => {
          const t = table(out, ["id", "event", "status", "attempts", "last", "next attempt"]);
          for (const d of r.deliveries) {
            const last = d.last_status_code ?? d.last_error ?? "";
            t.push([d.id, d.event_id, d.status, d.attempts, String(last), d.next_attempt_at ?? ""]);
          }
          return t.toString();
        });
      });
    });

  act(hooks.command("retry <id> <delivery-id>").description("Send a failed delivery again, at once")).action(
    async (id: string, deliveryId: string, opts: Opts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withWebhooks(cmd, opts.actor, async (c) => {
        const r = await c.retry(id, deliveryId);
        out.result(r, () => `delivery ${deliveryId} pending again`);
      });
    },
  );

  registerMonitors(program, act);
}

type MonitorOpts = {
  actor?: string;
  user?: string;
  field?: string;
  operator?: string;
  value?: string;
  currency?: string;
};

function registerMonitors(program: Command, act: (c: Command) => Command): void {
  const monitors = program
    .command("monitors")
    .description("Balance monitors: monitor_triggered / monitor_resolved events, once per crossing");

  act(monitors.command("add").description("Watch a wallet's balance or available balance against a value"))
    .option("-u, --user <id>", "the wallet's user id")
    .option("--field <field>", "balance or available_balance")
    .option("--operator <op>", "lt, lte, gt or gte")
    .option("--value <minor units>", "the value compared with")
    .option("--currency <code>", "the wallet's currency (default: DEFAULT_CURRENCY)")
    .action(async (opts: MonitorOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const field = opts.field;
      const operator = opts.operator;
      if (field !== "balance" && field !== "available_balance")
        throw new UsageError("--field must be balance or available_balance");
      if (operator !== "lt" && operator !== "lte" && operator !== "gt" && operator !== "gte")
        throw new UsageError("--operator must be lt, lte, gt or gte");
      if (opts.user === undefined || opts.value === undefined) throw new UsageError("missing --user or --value");
      const user_id = parseIntArg(opts.user, "--user");
      const value = Number(opts.value);
      if (!/^-?[0-9]{1,16}$/.test(opts.value)) throw new UsageError("--value must be whole minor units");
      const currency = parseCurrencyArg(opts.currency);
      await withWebhooks(cmd, opts.actor, async (c) => {
        const m = await c.addMonitor({ user_id, field, operator, value, ...(currency ? { currency } : {}) });
        out.result(
          m,
          () => `monitor ${m.id}: ${m.user_id} ${m.currency} ${m.field} ${m.operator} ${m.value} (${m.state})`,
        );
      });
    });

  act(monitors.command("list").description("Monitors, of one user or all"))
    .option("-u, --user <id>", "only this user's")
    .action(async (opts: MonitorOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = opts.user === undefined ? undefined : parseIntArg(opts.user, "--user");
      await withWebhooks(cmd, opts.actor, async (c) => {
        const r = await c.monitors(user);
        out.result(r, () => {
          const t = table(out, ["id", "user", "currency", "condition", "state"]);
          for (const m of r.monitors)
            t.push([m.id, m.user_id, m.currency, `${m.field} ${m.operator} ${m.value}`, m.state]);
          return t.toString();
        });
      });
    });

  act(monitors.command("remove <id>").description("Remove a monitor")).action(
    async (id: string, opts: MonitorOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withWebhooks(cmd, opts.actor, async (c) => {
        await c.removeMonitor(id);
        out.result({ id, removed: true }, () => `monitor ${id} removed`);
      });
    },
  );
}
