// The baseline: a bare node:http server answering a small JSON body, nothing else.
import http from "node:http";

const body = JSON.stringify({ balance: 10000 });
const server = http.createServer((req, res) => {
  const send = () => {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === "POST") {
    req.resume();
    req.on("end", send);
  } else send();
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ msg: "bare listening", port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
