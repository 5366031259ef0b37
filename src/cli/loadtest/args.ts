/** The loadtest command's arguments, checked (a malformed one is a usage error). */
import { parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { SCENARIOS, type Scenario } from "./scenarios.js";

export type LoadtestOpts = {
  scenario: string;
  duration: string;
  concurrency: string;
  users: string;
  first: string;
  seed: boolean;
  check: boolean;
};

export type LoadtestArgs = {
  scenario: Scenario;
  durationSec: number;
  concurrency: number;
  users: number;
  first: number;
  seed: boolean;
  /** check the ledger after the run (totals, then every invariant over the whole database) */
  check: boolean;
  /** a bare server baseline: no wallets, no ledger */
  baseline: boolean;
};

export function parseLoadtestArgs(opts: LoadtestOpts): LoadtestArgs {
  if (!(SCENARIOS as readonly string[]).includes(opts.scenario))
    throw new UsageError(`--scenario must be one of ${SCENARIOS.join(", ")}`);
  const users = parseIntArg(opts.users, "--users");
  if (users < 2) throw new UsageError("--users must be at least 2");
  const scenario = opts.scenario as Scenario;
  return {
    scenario,
    durationSec: parseIntArg(opts.duration, "--duration"),
    concurrency: parseIntArg(opts.concurrency, "--concurrency"),
    users,
    first: parseIntArg(opts.first, "--first"),
    seed: opts.seed,
    check: opts.check,
    baseline: scenario.startsWith("baseline"),
  };
}
