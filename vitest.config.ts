import { defineConfig } from "vitest/config";

// The unit project (test/unit: pure mechanisms against scripted collaborators, no
// database, no process) runs first and alone in seconds: `npm run test:unit`.
// The same suites then run twice: on the embedded PGlite and on the real PostgreSQL
// (+ Redis). Tests that need several connections or processes skip on PGlite.
// The fault tests (a private PostgreSQL behind a proxy, stopped and crashed) run
// once, in their own project. docs/testing.md says which project covers what.
const common = {
  include: ["test/**/*.test.ts"],
  exclude: ["test/unit/**", "test/faults/**", "test/cluster/**", "**/node_modules/**"],
  globalSetup: ["test/helpers/globalSetup.ts"],
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

/**
 * Files that need no second engine: the CLI's own behaviour, input fuzzing, HTTP parsing,
 * the process guard, pure helpers (the docs page and its links run on PGlite only).
 */
const PG_ONLY = [
  "test/cli-api.test.ts",
  "test/cli-currency.test.ts",
  "test/cli-limits.test.ts",
  "test/cli-operator.test.ts",
  "test/fuzz.test.ts",
  "test/hostile.test.ts",
  "test/processGuard.test.ts",
  "test/isoDate.test.ts",
  "test/memoryCache.test.ts",
  "test/rateLimiter.test.ts",
];

export default defineConfig({
  test: {
    reporters: ["default", "./test/helpers/summaryReporter.ts"],
    // two test files at a time: most wait on processes, servers and databases, not on
    // the CPU (vitest's default on 2 cores is one); the cluster files still run alone
    maxWorkers: 2,
    // `npm run test:coverage`: what the unit project covers of the mechanisms it tests
    coverage: {
      provider: "v8",
      include: [
        "src/core/groupCommit.ts",
        "src/core/db/errors.ts",
        "src/core/retry.ts",
        "src/core/sqlSplit.ts",
        "src/core/money.ts",
      ],
      reporter: ["text"],
      // every branch of group commit and of the failure classification is exercised
      thresholds: {
        "src/core/groupCommit.ts": { branches: 100, statements: 100, functions: 100, lines: 100 },
        "src/core/db/errors.ts": { branches: 100, statements: 100, functions: 100, lines: 100 },
      },
    },
    projects: [
      {
        // threads in one shared module graph: the files import the same modules, and
        // start-up is most of the time (each test restores what it mocks)
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 10_000,
          pool: "threads",
          isolate: false,
        },
      },
      // each CLI call on the embedded database starts PGlite afresh (2-3 s of CPU), so the
      // files that run many CLI calls in one test need more time; and the CLI's own
      // behaviour (options, output, --api mode, operator commands, currencies, limits)
      // runs on PostgreSQL only, while cli.test.ts, cli-batch, webhooks-cli and verify
      // keep direct mode on PGlite covered. Input fuzzing and HTTP parsing do not depend on
      // the engine either.
      {
        test: {
          ...common,
          name: "pglite",
          exclude: [...common.exclude, ...PG_ONLY],
          env: { WALLET_TEST_DB: "pglite" },
          testTimeout: 180_000,
        },
      },
      // a CLI test runs a dozen processes: 15 s alone, past 60 s on a loaded machine
      { test: { ...common, name: "pg", env: { WALLET_TEST_DB: "pg" }, testTimeout: 120_000 } },
      {
        test: {
          ...common,
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          exclude: ["**/node_modules/**"],
          env: { WALLET_TEST_DB: "pg" },
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // a Patroni cluster (etcd, two PostgreSQL nodes, HAProxy) built on loopback
        test: {
          ...common,
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          // each file builds a cluster of its own: one at a time on a small machine
          fileParallelism: false,
          exclude: ["**/node_modules/**"],
          env: { WALLET_TEST_DB: "pg" },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
