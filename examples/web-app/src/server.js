// Starts the example app on $PORT (default 3000). The canary starts one of these per version.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { handle } from './app.js';

const version = (() => {
  try {
    return JSON.parse(readFileSync(new URL('./version.json', import.meta.url), 'utf8'));
  } catch {
    return {};
  }
})();

const port = Number(process.env.PORT ?? 3000);
const server = createServer((req, res) => {
  const { status, body } = handle(req, version);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
});
server.listen(port, '127.0.0.1', () => console.log(`web-app ${version.version ?? 'dev'} listening on ${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
