/**
 * The gRPC port's connection limits, set small in configuration (GRPC_*): sockets
 * that never become HTTP/2 (silent, a partial preface, an HTTP/1 request) and HTTP/2
 * connections that sit idle are all closed by the server; a call's metadata is bounded.
 */
import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "./helpers/privatePostgres.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
const walletV1 = (grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any).wallet
  .v1;

const HANDSHAKE_MS = 300;
const IDLE_MS = 500;

let s: TestServer;
let port: number;
beforeAll(async () => {
  s = await startTestServer({
    GRPC_PORT: String(await freePort()),
    GRPC_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS),
    GRPC_MAX_CONNECTION_IDLE_MS: String(IDLE_MS),
    GRPC_MAX_METADATA_BYTES: "2048",
  });
  port = s.config.grpcPort;
});
afterAll(() => s?.stop());

/** A TCP socket to the gRPC port that sends `bytes` (if any), then nothing; resolves when the server has closed it. */
async function rawSocket(bytes?: string): Promise<{ closed: Promise<number> }> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  const opened = performance.now();
  socket.on("error", () => undefined);
  socket.resume(); // whatever the server says is read and dropped
  if (bytes) socket.write(bytes);
  return { closed: once(socket, "close").then(() => performance.now() - opened) };
}

/** An HTTP/2 connection that completed the preface and settings, with no call; resolves when the server closed it. */
async function idleHttp2(): Promise<{ closed: Promise<number> }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  await once(session, "remoteSettings");
  const opened = performance.now();
  return { closed: once(session, "close").then(() => performance.now() - opened) };
}

const refused = async (reason: string) =>
  (await s.services.metrics.grpcConnectionsRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

it("closes 8 idle and half-open connections: silent, a partial preface, HTTP/1, idle HTTP/2", async () => {
  const conns = await Promise.all([
    rawSocket(),
    rawSocket(),
    rawSocket("PRI * HTTP/2.0\r\n"),
    rawSocket("PRI * HTTP/2.0\r\n\r\nSM\r"),
    rawSocket("GET / HTTP/1.1\r\nHost: wallet\r\n\r\n"),
    rawSocket("POST /wallet.v1.WalletService/GetBalance HTTP/1.1\r\nHost: wallet\r\nContent-Length: 0\r\n\r\n"),
    idleHttp2(),
    idleHttp2(),
  ]);
  // with no limits these stay open for good: the test would time out here
  const lived = await Promise.all(conns.map((c) => c.closed));
  // each closed by its own limit (plus the idle timer's granularity), not by something later
  for (const ms of lived.slice(0, 4)) expect(ms).toBeLessThan(HANDSHAKE_MS * 10);
  for (const ms of lived.slice(6)) expect(ms).toBeLessThan(IDLE_MS * 10);
  expect(await refused("handshake_timeout")).toBe(4);
  expect(await refused("bad_preface")).toBe(2);
});

it("a client's channel reconnects after the server closed its idle connection", async () => {
  const client = new walletV1.WalletService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const balance = () =>
    new Promise<number>((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set("authorization", "7");
      client.GetBalance({}, md, (err: Error | null, v: { balance: number }) =>
        err ? reject(err) : resolve(v.balance),
      );
    });
  expect(await balance()).toBe(0);
  const channel = client.getChannel() as grpc.Channel;
  // the server closes the idle connection: the channel leaves READY
  while (channel.getConnectivityState(false) === grpc.connectivityState.READY) {
    await new Promise<void>((resolve) =>
      channel.watchConnectivityState(grpc.connectivityState.READY, Date.now() + 60_000, () => resolve()),
    );
  }
  expect(await balance()).toBe(0);
  client.close();
});

it("refuses a call whose metadata is larger than GRPC_MAX_METADATA_BYTES with invalid_request", async () => {
  const client = new walletV1.WalletService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("authorization", "7");
  md.set("x-padding", "a".repeat(4096));
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client.GetBalance({}, md, () => undefined);
    call.on("status", resolve);
  });
  expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(status.metadata.get("wallet-error-code")).toEqual(["invalid_request"]);
  client.close();
});

it("answers bytes that are no message of the method's type with invalid_request, not INTERNAL", async () => {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("authorization", "7");
  const raw = (b: Buffer) => b;
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client.makeUnaryRequest(
      "/wallet.v1.WalletService/Deposit",
      raw,
      raw,
      Buffer.from([0xff, 0xff, 0xff]), // a field tag with no end
      md,
      () => undefined,
    );
    call.on("status", resolve);
  });
  expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(status.metadata.get("wallet-error-code")).toEqual(["invalid_request"]);
  client.close();
});
