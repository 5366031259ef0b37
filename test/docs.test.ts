/**
 * The /docs page in real headless Chromium: it renders offline from packaged
 * assets, lists the endpoints, and makes a call to the API from the page.
 */
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { engine } from "./helpers/env.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// one engine is enough: the page does not touch the database
describe.skipIf(engine !== "pglite")("the docs page", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it("lists the endpoints and makes a call from the page", async () => {
    expect(fs.existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (apt-get install chromium)`).toBe(true);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const outside: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("request", (req) => {
        if (!req.url().startsWith(s.url) && !req.url().startsWith("data:")) outside.push(req.url());
      });
      await page.goto(`${s.url}/docs`);
      await page.waitForSelector(".opblock", { timeout: 20_000 });
      const text = await page.textContent("body");
      for (const p of [
        "/api/deposit/v1",
        "/api/withdraw/v1",
        "/api/transfer/v1",
        "/api/transfer/v2",
        "/api/wallet/balance/v1",
        "/api/transactions/v1",
      ]) {
        expect(text).toContain(p);
      }
      const healthz = page.locator("#operations-operations-healthz");
      await healthz.locator(".opblock-summary").click();
      // the page opens with "Try it out" already on (tryItOutEnabled)
      await healthz.locator("button.execute").click();
      const response = healthz.locator(".live-responses-table tbody .response-col_description").first();
      await response.waitFor({ timeout: 10_000 });
      expect(await response.textContent()).toMatch(/"status":\s*"ok"/);
      expect(await healthz.locator(".live-responses-table tbody .response-col_status").first().textContent()).toContain(
        "200",
      );
      fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, "test-artifacts/docs.png"), fullPage: false });
    } finally {
      await browser.close();
    }
    expect(outside).toEqual([]); // no CDN, nothing fetched from elsewhere
  });
});
