/**
 * The gRPC port's TCP listener. grpc-js closes connections that are idle, too old or
 * dead (max_connection_idle_ms, max_connection_age_ms, keepalive), but only once an
 * HTTP/2 session exists: a socket that never sends the HTTP/2 client preface (silent,
 * a partial preface, an HTTP/1 request) would stay open for ever, one file descriptor
 * each. So this listener accepts the sockets itself, waits for the 24-byte preface
 * for at most handshakeTimeoutMs, closes the socket if it does not come or is not the
 * preface, and hands the socket (bytes read put back) to grpc-js's connection injector.
 */
import net from "node:net";
import type * as grpc from "@grpc/grpc-js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type RefusedReason = "handshake_timeout" | "bad_preface";

export type GrpcListener = {
  port: number;
  /** sockets accepted and not yet handed to grpc-js */
  handshaking(): number;
  /** stops accepting; sockets still in their handshake are closed */
  stopAccepting(): void;
  /** closes every socket left (after grpc-js's shutdown) */
  destroyAll(): void;
};

export async function listenGrpc(o: {
  host: string;
  port: number;
  injector: grpc.ConnectionInjector;
  handshakeTimeoutMs: number;
  onRefused?: (reason: RefusedReason) => void;
  /** a failure to accept (EMFILE: out of file descriptors): the listener goes on */
  onError?: (err: Error) => void;
}): Promise<GrpcListener> {
  const pending = new Set<net.Socket>();
  const all = new Set<net.Socket>();

  function accept(socket: net.Socket): void {
    all.add(socket);
    socket.once("close", () => all.delete(socket));
    pending.add(socket);
    let seen = Buffer.alloc(0);
    const refuse = (reason: RefusedReason) => {
      done();
      o.onRefused?.(reason);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse("handshake_timeout"), o.handshakeTimeoutMs);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      if (!seen.subarray(0, n).equals(PREFACE.subarray(0, n))) return refuse("bad_preface");
      if (seen.length < PREFACE.length) return;
      done();
      socket.pause();
      socket.unshift(seen); // the HTTP/2 session reads what is buffered first
      o.injector.injectConnection(socket);
    };
    const onGone = () => done();
    function done() {
      clearTimeout(timer);
      pending.delete(socket);
      socket.off("data", onData);
      socket.off("close", onGone);
      socket.off("error", onGone);
    }
    socket.on("data", onData);
    socket.on("close", onGone);
    socket.on("error", onGone);
  }

  const server = net.createServer({ noDelay: true }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // an accept that failed (EMFILE) must not become an uncaught 'error' event: said, and the listener goes on
  server.on("error", (err) => o.onError?.(err));
  return {
    port: (server.address() as net.AddressInfo).port,
    handshaking: () => pending.size,
    stopAccepting() {
      server.close();
      for (const s of pending) s.destroy();
    },
    destroyAll() {
      for (const s of all) s.destroy();
    },
  };
}
