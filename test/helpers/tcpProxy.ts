import net from "node:net";

/**
 * A TCP proxy a test controls, between a client (the service) and a server (a
 * private PostgreSQL): it can reset every connection through it at once (both
 * sides see a connection reset, as on a real network fault), now or at random
 * intervals, and refuse new connections for a while.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private cutter?: NodeJS.Timeout;
  private refusing = false;
  port = 0;
  cuts = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = "127.0.0.1",
  ) {
    this.server = net.createServer((client) => {
      if (this.refusing) return void client.resetAndDestroy();
      const upstream = net.connect(this.targetPort, this.targetHost);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close).on("close", close);
      upstream.on("error", close).on("close", close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Resets every open connection, both ways. */
  cutAll(): void {
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
    this.cuts++;
  }

  /** Resets every connection every minMs..maxMs until stopCutting(). */
  cutEvery(minMs: number, maxMs: number): void {
    const next = () => {
      this.cutter = setTimeout(
        () => {
          this.cutAll();
          next();
        },
        minMs + Math.random() * (maxMs - minMs),
      );
    };
    next();
  }

  stopCutting(): void {
    clearTimeout(this.cutter);
  }

  setRefusing(refusing: boolean): void {
    this.refusing = refusing;
  }

  async close(): Promise<void> {
    this.stopCutting();
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
