// The baseline: a bare node:http server answering a small JSON body, nothing else; a
// POST's body is read and parsed as JSON first (what any JSON API does with it).
import http from "node:http";

const body = JSON.stringify({ balance: 10000 });
const server = http.createServer((req, res) => {
  const send = (status = 200) => {
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === "POST") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(400);
      }
      send();
    });
  } else send();
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ msg: "bare listening", port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
