/**
 * Where a webhook may be sent: an http(s) URL whose host is not, and does not resolve
 * to, a loopback, private, link-local, shared, "this network" or unique-local address
 * (nor an IPv4-mapped IPv6 form of one), unless WEBHOOK_ALLOW_PRIVATE. Judged when an
 * endpoint is created and again before every attempt (DNS may change); the attempt
 * then connects to the address judged here, not to a second lookup.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

const refused = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
] as const) {
  refused.addSubnet(net, bits, "ipv4");
}
refused.addAddress("::", "ipv6");
refused.addAddress("::1", "ipv6");
refused.addSubnet("fe80::", 10, "ipv6");
refused.addSubnet("fc00::", 7, "ipv6");

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:xxxx:xxxx) as IPv4, else undefined. */
function mappedV4(ip: string): string | undefined {
  const m = /^::ffff:(.+)$/i.exec(ip);
  if (!m) return undefined;
  if (isIP(m[1]!) === 4) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]!);
  if (!hex) return undefined;
  const a = parseInt(hex[1]!, 16);
  const b = parseInt(hex[2]!, 16);
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

export function isPrivateAddress(ip: string): boolean {
  const v4 = mappedV4(ip);
  if (v4) return refused.check(v4, "ipv4");
  const family = isIP(ip);
  if (family === 0) return true; // not an address: never trusted
  return refused.check(ip, family === 4 ? "ipv4" : "ipv6");
}

export class AddressRefused extends Error {
  override name = "AddressRefused";
}

/** The URL parsed, or why it cannot be a webhook URL. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AddressRefused("url must be an absolute http or https URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new AddressRefused("url must be http or https");
  if (url.username || url.password) throw new AddressRefused("url must not carry credentials");
  if (raw.length > 2000) throw new AddressRefused("url must be at most 2000 characters");
  return url;
}

/** The addresses the URL's host is, or resolves to; refused if any is private (unless allowed). */
export async function resolveAllowed(url: URL, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let found: { address: string; family: number }[];
  if (isIP(host)) found = [{ address: host, family: isIP(host) }];
  else {
    try {
      found = await lookup(host, { all: true });
    } catch {
      throw new AddressRefused(`the host ${host} does not resolve`);
    }
  }
  if (found.length === 0) throw new AddressRefused(`the host ${host} does not resolve`);
  if (!allowPrivate) {
    const bad = found.find((a) => isPrivateAddress(a.address));
    if (bad) {
      throw new AddressRefused(
        `the host ${host} is a loopback or private address (${bad.address}); set WEBHOOK_ALLOW_PRIVATE=true to allow it`,
      );
    }
  }
  return found[0]!;
}
