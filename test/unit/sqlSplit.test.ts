/** The migrations reach PGlite one statement at a time: where a script is cut. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../src/core/migrate.js";
import { splitSqlStatements } from "../../src/core/sqlSplit.js";

describe("splitSqlStatements", () => {
  it("cuts at top-level semicolons", () => {
    expect(splitSqlStatements("select 1; select 2;")).toEqual(["select 1", "select 2"]);
  });

  it("keeps a last statement without a semicolon", () => {
    expect(splitSqlStatements("select 1; select 2")).toEqual(["select 1", "select 2"]);
  });

  it("keeps semicolons inside a dollar-quoted body, tagged or not", () => {
    const fn = "create function f() returns int language plpgsql as $fn$ begin return 1; end $fn$";
    const plain = "do $$ begin perform 1; end $$";
    expect(splitSqlStatements(`${fn}; ${plain};`)).toEqual([fn, plain]);
  });

  it("keeps semicolons inside quoted strings and identifiers, doubled quotes included", () => {
    const s = `select 'a;b''c;' as "x;""y"`;
    expect(splitSqlStatements(`${s}; select 2`)).toEqual([s, "select 2"]);
  });

  it("ignores semicolons in line and block comments", () => {
    expect(splitSqlStatements("select 1 -- not; here\n; /* nor; here */ select 2;")).toEqual([
      "select 1 -- not; here",
      "/* nor; here */ select 2",
    ]);
  });

  it("drops pieces that are only comments or blank", () => {
    expect(splitSqlStatements("select 1;\n-- the end\n;  ;")).toEqual(["select 1"]);
  });

  it("drops a line comment that ends the script without a newline", () => {
    expect(splitSqlStatements("select 1; -- the end")).toEqual(["select 1"]);
  });

  it("passes a block comment left open on whole, for PostgreSQL to refuse", () => {
    expect(splitSqlStatements("select 1; /* never closed; ")).toEqual(["select 1", "/* never closed;"]);
  });

  it("keeps a dollar-quoted body left open at the end as one statement", () => {
    expect(splitSqlStatements("select 1; do $$ begin; ")).toEqual(["select 1", "do $$ begin;"]);
  });

  it("treats a lone dollar sign as text", () => {
    expect(splitSqlStatements("select $1::int; select 2")).toEqual(["select $1::int", "select 2"]);
  });

  it("keeps every function of the landed migrations whole", () => {
    for (const file of fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql"))) {
      const text = fs.readFileSync(path.join(MIGRATIONS_DIR, file), "utf8");
      const functions = (text.match(/^create (or replace )?function/gim) ?? []).length;
      const statements = splitSqlStatements(text).filter((s) => /^create (or replace )?function/im.test(s));
      expect(statements.length, file).toBe(functions);
      for (const s of statements) expect(s.match(/\$\$/g)?.length ?? 2, file).toBe(2);
    }
  });
});
