// The app behind the proxy in the benchmark: a small JSON answer, as the example app gives.
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true, version: 'bench' });
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
