/** Which webhook hosts are refused, and the signature's shape. */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isPrivateAddress, parseWebhookUrl, resolveAllowed } from "../../src/core/webhooks/address.js";
import { signature } from "../../src/core/webhooks/send.js";

describe("private addresses", () => {
  it.each([
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.1.2.3",
  ])("refuses %s", (ip) => expect(isPrivateAddress(ip)).toBe(true));

  it.each(["8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])("allows %s", (ip) =>
    expect(isPrivateAddress(ip)).toBe(false),
  );

  it("judges literal hosts, and resolved ones, unless allowed", async () => {
    await expect(resolveAllowed(new URL("http://[::1]:8080/"), false)).rejects.toThrow(/private/);
    await expect(resolveAllowed(new URL("http://localhost/"), false)).rejects.toThrow(/private/);
    await expect(resolveAllowed(new URL("http://127.0.0.1/"), true)).resolves.toMatchObject({ address: "127.0.0.1" });
  });

  it("takes http and https URLs without credentials only", () => {
    expect(() => parseWebhookUrl("ftp://x/")).toThrow(/http/);
    expect(() => parseWebhookUrl("http://u:p@x/")).toThrow(/credentials/);
    expect(() => parseWebhookUrl("nope")).toThrow(/absolute/);
    expect(parseWebhookUrl("https://example.com/a?b=1").hostname).toBe("example.com");
  });
});

describe("signature", () => {
  it("is t=<seconds>,v1=<hmac of t.body> per secret", () => {
    const body = '{"id":"1:1"}';
    const hmac = (s: string) => createHmac("sha256", s).update(`1700000000.${body}`).digest("hex");
    expect(signature(body, ["whsec_a", "whsec_b"], 1_700_000_000)).toBe(
      `t=1700000000,v1=${hmac("whsec_a")},v1=${hmac("whsec_b")}`,
    );
  });
});

describe("an attempt", () => {
  it("is refused at send time for a private address unless allowed", async () => {
    const { startReceiver } = await import("../helpers/receiver.js");
    const { attempt, webhookAgent } = await import("../../src/core/webhooks/send.js");
    const r = await startReceiver();
    const o = { url: r.url, endpointId: "1", eventId: "1:1", body: '{"user_id":1}', secrets: ["whsec_x"] };
    try {
      const refused = await attempt(webhookAgent(false), { ...o, allowPrivate: false });
      expect(refused).toMatchObject({ ok: false, status: null });
      expect(refused.error).toMatch(/private/);
      expect(r.received).toEqual([]);
      const sent = await attempt(webhookAgent(true), { ...o, allowPrivate: true });
      expect(sent).toEqual({ ok: true, status: 200, error: null });
      expect(r.received).toHaveLength(1);
    } finally {
      await r.close();
    }
  });
});
