/**
 * Splits a SQL script into statements at top-level semicolons, keeping
 * dollar-quoted bodies ($$ ... $$, $fn$ ... $fn$), quoted strings and comments
 * intact. PGlite's query() takes one statement at a time, so migrations are fed to
 * both engines statement by statement.
 */
export function splitSqlStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      i = j + 1;
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_0-9]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
      } else {
        i++;
      }
    } else if (c === ";") {
      const stmt = sql.slice(start, i).trim();
      if (hasCode(stmt)) out.push(stmt);
      start = ++i;
    } else {
      i++;
    }
  }
  const rest = sql.slice(start).trim();
  if (hasCode(rest)) out.push(rest);
  return out;
}

function hasCode(stmt: string): boolean {
  return stmt.replace(/--.*$/gm, "").trim().length > 0;
}
