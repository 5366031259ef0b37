/**
 * classifyFailure against the errors the drivers really raise: pg's Client and Pool
 * over a real socket to a scripted peer (its own parser makes the DatabaseError),
 * PGlite's protocol parser on the same bytes, node's socket errors, and our own
 * timeout. Text is read only when an error carries no code.
 */
import { protocol } from "@electric-sql/pglite";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { classifyFailure, DatabaseTimeoutError, isUnavailable, type FailureKind } from "../../src/core/db/errors.js";
import { closedPort, errorResponse, fakePostgres, type Script } from "./fakePostgres.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function caught(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("expected a failure");
}

/** pg's Client: connect to a peer playing the script, run one query, return what it raised. */
async function pgError(script: Script, config: pg.ClientConfig = {}) {
  const peer = await fakePostgres(script);
  closers.push(peer.close);
  const client = new pg.Client({ host: "127.0.0.1", port: peer.port, user: "u", database: "d", ...config });
  client.on("error", () => undefined);
  closers.push(() => client.end().catch(() => undefined));
  return caught(client.connect().then(() => client.query("select 1")));
}

/** The same ErrorResponse bytes through PGlite's own protocol parser. */
function pgliteError(code: string, message: string): Error & { code?: string } {
  let parsed: unknown;
  new protocol.Parser().parse(errorResponse(code, message), (msg) => (parsed = msg));
  return parsed as Error & { code?: string };
}

/** A libuv error as node's net and dns layers make them: "<syscall> <CODE> ...", errno, code, syscall. */
const uvError = (syscall: string, code: string, errno: number, tail = "") =>
  Object.assign(new Error(`${syscall} ${code}${tail}`), { errno, code, syscall });

describe("classifyFailure: pg's DatabaseError, by SQLSTATE", () => {
  const rows: Array<[string, string, string, FailureKind]> = [
    ["serialization failure", "40001", "could not serialize access due to concurrent update", "rollback"],
    ["deadlock", "40P01", "deadlock detected", "rollback"],
    ["lock not available", "55P03", 'could not obtain lock on row in relation "wallets"', "rollback"],
    ["statement timeout", "57014", "canceling statement due to statement timeout", "rollback"],
    ["read-only standby", "25006", "cannot execute INSERT in a read-only transaction", "unknown"],
    ["connection exception class 08", "08006", "connection failure", "unknown"],
    ["unique violation", "23505", 'duplicate key value violates unique constraint "journal_pkey"', "error"],
    ["raised by wallet_apply", "P0001", "unknown outcome x", "error"],
    ["internal error naming a lost connection", "XX000", "server closed the connection unexpectedly", "error"],
  ];
  it.each(rows)("%s (%s) is %s from a query's ErrorResponse", async (_name, code, message, kind) => {
    const err = await pgError({ onQuery: { code, message } });
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect(err).toMatchObject({ code, message, severity: "ERROR" });
    expect(classifyFailure(err)).toBe(kind);
  });

  it("admin shutdown (57P01, FATAL while a query runs) is unknown", async () => {
    const err = await pgError({
      onQuery: { code: "57P01", message: "terminating connection due to administrator command", severity: "FATAL" },
    });
    expect(err).toMatchObject({ code: "57P01", severity: "FATAL" });
    expect(classifyFailure(err)).toBe("unknown");
  });

  it.each([
    ["the database system is starting up", "57P03"],
    ["sorry, too many clients already", "53300"],
  ])("'%s' (%s) at connect is unknown", async (message, code) => {
    const err = await pgError({ atStartup: { code, message } });
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect(err).toMatchObject({ code, message });
    expect(classifyFailure(err)).toBe("unknown");
  });
});

describe("classifyFailure: PGlite's DatabaseError", () => {
  it.each([
    ["40001", "could not serialize access due to concurrent update", "rollback"],
    ["23505", 'duplicate key value violates unique constraint "journal_pkey"', "error"],
    ["P0001", "unknown outcome x", "error"],
  ] as const)("%s is %s", (code, message, kind) => {
    const err = pgliteError(code, message);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code, message });
    expect(classifyFailure(err)).toBe(kind);
  });
});

describe("classifyFailure: the connection, from pg over a real socket", () => {
  it("a refused connection (ECONNREFUSED) is unknown", async () => {
    const client = new pg.Client({ host: "127.0.0.1", port: await closedPort() });
    const err = await caught(client.connect());
    expect(err).toMatchObject({ code: "ECONNREFUSED", syscall: "connect" });
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a reset during a query (ECONNRESET) is unknown", async () => {
    const err = await pgError({ onQuery: "reset" });
    expect(err).toMatchObject({ code: "ECONNRESET", syscall: "read" });
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a peer that closes during a query ('Connection terminated unexpectedly', no code) is unknown", async () => {
    const err = await pgError({ onQuery: "end" });
    expect(err.message).toBe("Connection terminated unexpectedly");
    expect(err.code).toBeUndefined();
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a query past query_timeout ('Query read timeout') is unknown", async () => {
    const err = await pgError({ onQuery: "silent" }, { query_timeout: 50 });
    expect(err.message).toBe("Query read timeout");
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a query on a client whose connection failed ('... is not queryable') is unknown", async () => {
    const peer = await fakePostgres({ onQuery: "reset" });
    closers.push(peer.close);
    const client = new pg.Client({ host: "127.0.0.1", port: peer.port });
    client.on("error", () => undefined);
    await client.connect();
    await caught(client.query("select 1"));
    const err = await caught(client.query("select 1"));
    expect(err.message).toMatch(/is not queryable/);
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a query on a closed client ('Client was closed and is not queryable') is unknown", async () => {
    const peer = await fakePostgres({ onQuery: "silent" });
    closers.push(peer.close);
    const client = new pg.Client({ host: "127.0.0.1", port: peer.port });
    await client.connect();
    await client.end();
    const err = await caught(client.query("select 1"));
    expect(err.message).toBe("Client was closed and is not queryable");
    expect(classifyFailure(err)).toBe("unknown");
  });
});

describe("classifyFailure: pg-pool", () => {
  it("no free connection in time ('timeout exceeded when trying to connect') is unknown", async () => {
    const peer = await fakePostgres({ onQuery: "silent" });
    closers.push(peer.close);
    const pool = new pg.Pool({ host: "127.0.0.1", port: peer.port, max: 1, connectionTimeoutMillis: 50 });
    closers.push(() => pool.end());
    const held = await pool.connect();
    const err = await caught(pool.connect());
    held.release();
    expect(err.message).toBe("timeout exceeded when trying to connect");
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a server that never answers the startup ('Connection terminated due to connection timeout') is unknown", async () => {
    const peer = await fakePostgres({ atStartup: "silent" });
    closers.push(peer.close);
    const pool = new pg.Pool({ host: "127.0.0.1", port: peer.port, connectionTimeoutMillis: 50 });
    closers.push(() => pool.end());
    const err = await caught(pool.query("select 1"));
    expect(err.message).toBe("Connection terminated due to connection timeout");
    expect(classifyFailure(err)).toBe("unknown");
  });

  it("a pool after end ('Cannot use a pool after calling end on the pool') is unknown", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port: await closedPort() });
    await pool.end();
    const err = await caught(pool.connect());
    expect(err.message).toBe("Cannot use a pool after calling end on the pool");
    expect(classifyFailure(err)).toBe("unknown");
  });
});

describe("classifyFailure: node's socket and name errors", () => {
  it.each([
    ["write", "EPIPE", -32, ""],
    ["read", "ECONNRESET", -104, ""],
    ["connect", "ETIMEDOUT", -110, " 10.0.0.9:5432"],
    ["connect", "EHOSTUNREACH", -113, " 10.0.0.9:5432"],
    ["connect", "ENETUNREACH", -101, " 10.0.0.9:5432"],
    ["getaddrinfo", "ENOTFOUND", -3008, " db.internal"],
    ["getaddrinfo", "EAI_AGAIN", -3001, " db.internal"],
  ])("%s %s is unknown", (syscall, code, errno, tail) => {
    expect(classifyFailure(uvError(syscall, code, errno, tail))).toBe("unknown");
  });

  it("our own call timeout (DatabaseTimeoutError) is unknown", () => {
    expect(classifyFailure(new DatabaseTimeoutError("no answer from PostgreSQL within 5000 ms"))).toBe("unknown");
  });
});

describe("classifyFailure: the message is a last resort", () => {
  it("a code that names no connection failure wins over a message that does", () => {
    const err = Object.assign(new Error("Connection terminated unexpectedly"), { code: "ERR_INVALID_ARG_TYPE" });
    expect(classifyFailure(err)).toBe("error");
  });

  it("a SQLSTATE wins over a message that names a lost connection", () => {
    expect(classifyFailure(pgliteError("23505", "terminating connection"))).toBe("error");
  });

  it("an error with no code and a message of its own is a statement error", () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'outcome')"))).toBe("error");
  });

  it("a thrown string that names a lost connection is unknown", () => {
    expect(classifyFailure("Connection terminated unexpectedly")).toBe("unknown");
  });
});

describe("isUnavailable", () => {
  it("is true of an unknown outcome (the client should come back later)", () => {
    expect(isUnavailable(uvError("read", "ECONNRESET", -104))).toBe(true);
  });

  it("is false of a known rollback", () => {
    expect(isUnavailable(pgliteError("40P01", "deadlock detected"))).toBe(false);
  });

  it("is false of a statement error", () => {
    expect(isUnavailable(pgliteError("23505", "duplicate key value"))).toBe(false);
  });
});
