/**
 * Regressions of the hostile-input findings on the HTTP edge: malformed
 * percent-encoding in a path parameter (it ended the process), the docs assets'
 * table read by inherited names, the docs page's headers, and a client that hangs
 * up mid-body (it was answered and counted as a database fault).
 */
import { once } from "node:events";
import net from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/core/config.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { processDatabase, freshDatabase } from "./helpers/db.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import { get } from "./helpers/server.js";

const ADMIN_TOKEN = "a".repeat(40);
const MALFORMED = ["/docs/assets/%", "/api/holds/v1/%E0%A4%A", "/api/transfer/v2/%ff", "/admin/v1/wallets/%c0"];

describe("a real `wallet serve` process", () => {
  let p: ServeProcess;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await processDatabase();
    drop = db.drop;
    p = await startProcess("serve", { ...db.env, ADMIN_TOKEN, LOG_FORMAT: "json", TRANSFER_WORKERS: "0" });
  });
  afterAll(async () => {
    await p?.stop();
    await drop?.();
  });

  for (const path of MALFORMED) {
    it(`answers ${path} with 400 invalid_request`, async () => {
      const r = await get(p.url, path, 1, { authorization: `Bearer ${ADMIN_TOKEN}`, "x-actor": "fuzz" });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    });
  }

  it("still answers /healthz after every malformed path", async () => {
    for (const path of MALFORMED) await get(p.url, path, 1);
    expect((await get(p.url, "/healthz")).status).toBe(200);
    expect(p.child.exitCode).toBeNull();
  });
});

describe("in process", () => {
  let s: RunningServer;
  let drop: () => Promise<void>;
  const lines: { level: number; msg: string }[] = [];
  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    const config = resolveConfig({ PORT: "0", RATE_LIMIT_RPS: "0", TRANSFER_WORKERS: "0", ...db.env });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n"))
          if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
        done();
      },
    });
    s = await startServer(config, pino({ level: "info" }, sink));
  });
  afterAll(async () => {
    await s?.close();
    await drop?.();
  });

  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    it(`answers /docs/assets/${name} with 404`, async () => {
      const r = await get(s.url, `/docs/assets/${name}`);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("not_found");
    });
  }

  it("serves /docs with a Content-Security-Policy", async () => {
    const csp = String((await get(s.url, "/docs")).headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  for (const path of ["/docs", "/docs/init.js", "/docs/assets/swagger-ui.css"]) {
    it(`serves ${path} with X-Content-Type-Options: nosniff`, async () => {
      expect((await get(s.url, path)).headers["x-content-type-options"]).toBe("nosniff");
    });
  }

  it("does not persist tokens typed into the docs page", async () => {
    const init = (await get(s.url, "/docs/init.js")).raw.toString();
    expect(init).toContain("persistAuthorization: false");
  });

  it("counts a client that hangs up mid-body as aborted (499), not as a 5xx, and logs no error", async () => {
    const metric = async () => (await s.services.metrics.clientAborted.get()).values.reduce((a, v) => a + v.value, 0);
    const before = await metric();
    const socket = net.connect(s.port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(
      "POST /api/deposit/v1 HTTP/1.1\r\nHost: w\r\nAuthorization: 5\r\nExpect: 100-continue\r\n" +
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
    );
    // "100 Continue": the request reached its handler, which waits for the body
    await once(socket, "data");
    socket.write('{"amount": 1');
    socket.resetAndDestroy();
    while ((await metric()) === before) await new Promise((r) => setTimeout(r, 20));
    const statuses = (await s.services.metrics.requests.get()).values
      .filter((v) => v.labels.route === "/api/deposit/v1")
      .map((v) => v.labels.status);
    expect(statuses).toEqual(["499"]);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});
