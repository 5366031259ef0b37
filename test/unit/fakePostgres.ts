/**
 * A scripted PostgreSQL peer on loopback, enough of the wire protocol for pg's real
 * Client and Pool to connect and send a simple query: each connection does what the
 * script says, so that the driver raises its own errors (parsed by its own parser,
 * over a real socket) in milliseconds, with no database.
 */
import net from "node:net";

export type Script =
  /** the startup is answered with this ErrorResponse (FATAL), then the socket closes */
  | { atStartup: { code: string; message: string } }
  /** the query is answered with this ErrorResponse */
  | { onQuery: { code: string; message: string; severity?: "ERROR" | "FATAL" } }
  /** at the query: "reset" sends a TCP RST, "end" closes cleanly, "silent" never answers */
  | { onQuery: "reset" | "end" | "silent" }
  /** the startup is never answered */
  | { atStartup: "silent" };

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** An ErrorResponse as the server sends it: S, V, C, M fields, then a zero byte. */
export function errorResponse(code: string, text: string, severity = "ERROR"): Buffer {
  const field = (t: string, v: string) => Buffer.from(`${t}${v}\0`, "utf8");
  return message(
    "E",
    Buffer.concat([field("S", severity), field("V", severity), field("C", code), field("M", text), Buffer.from([0])]),
  );
}

const authOk = () => message("R", Buffer.from([0, 0, 0, 0]));
const ready = () => message("Z", Buffer.from("I"));

export async function fakePostgres(script: Script): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let started = false;
    socket.on("data", (chunk) => {
      if (!started) {
        started = true; // the startup message (pg sends it in one write)
        if ("atStartup" in script) {
          if (script.atStartup === "silent") return;
          socket.end(errorResponse(script.atStartup.code, script.atStartup.message, "FATAL"));
          return;
        }
        socket.write(Buffer.concat([authOk(), ready()]));
        return;
      }
      if (chunk[0] !== "Q".charCodeAt(0) || !("onQuery" in script)) return;
      const q = script.onQuery;
      if (q === "silent") return;
      if (q === "reset") return void socket.resetAndDestroy();
      if (q === "end") return void socket.end();
      if (q.severity === "FATAL") return void socket.end(errorResponse(q.code, q.message, "FATAL"));
      socket.write(Buffer.concat([errorResponse(q.code, q.message), ready()]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on loopback that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
