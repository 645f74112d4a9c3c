/**
 * What the local ALB (the canary's weighted proxy) costs, measured against the same app reached
 * directly, in the same run. The app and the proxy each run in their own process, as in `stepline run`.
 *
 * - Added latency: one keep-alive connection sending requests one after another, timed with hrtime,
 *   direct and through the proxy in interleaved blocks (so machine noise hits both alike); p50 and p99.
 * - Throughput: autocannon, 50 connections, direct and through the proxy, twice each, interleaved;
 *   requests per second and autocannon's own latency percentiles (whole milliseconds) under that load.
 *
 *   npx tsx bench/proxy/index.ts
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../../packages/local/src/canary/processes';

const here = import.meta.dirname;
const BLOCKS = 10;
const PER_BLOCK = 1_000;
const LOAD_SECONDS = 8;

async function start(): Promise<{ app: ChildProcess; proxy: ChildProcess; appPort: number; proxyPort: number }> {
  const appPort = await freePort();
  const app = fork(join(here, 'app.mjs'), [], { env: { ...process.env, PORT: String(appPort) }, stdio: 'inherit' });
  await once(app, 'message');
  const proxy = fork(join(here, 'serve.ts'), [String(appPort)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const [message] = (await once(proxy, 'message')) as [{ port: number }];
  return { app, proxy, appPort, proxyPort: message.port };
}

/** Microseconds per request, one request at a time on one kept-alive connection. */
async function sequential(port: number, count: number, agent: Agent): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.once('end', resolve);
      });
      req.once('error', reject);
      req.end();
    });
    times.push(Number(process.hrtime.bigint() - started) / 1_000);
  }
  return times;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const { app, proxy, appPort, proxyPort } = await start();
try {
  const agents = { direct: new Agent({ keepAlive: true, maxSockets: 1 }), proxy: new Agent({ keepAlive: true, maxSockets: 1 }) };
  await sequential(appPort, 2_000, agents.direct);
  await sequential(proxyPort, 2_000, agents.proxy);
  const direct: number[] = [];
  const proxied: number[] = [];
  for (let block = 0; block < BLOCKS; block++) {
    direct.push(...(await sequential(appPort, PER_BLOCK, agents.direct)));
    proxied.push(...(await sequential(proxyPort, PER_BLOCK, agents.proxy)));
  }
  direct.sort((a, b) => a - b);
  proxied.sort((a, b) => a - b);

  const load = async (port: number) => autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: LOAD_SECONDS });
  const runs = { direct: [] as Awaited<ReturnType<typeof load>>[], proxy: [] as Awaited<ReturnType<typeof load>>[] };
  for (let round = 0; round < 2; round++) {
    runs.direct.push(await load(appPort));
    runs.proxy.push(await load(proxyPort));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rps = (r: typeof runs.direct) => mean(r.map((x) => x.requests.average));
  const failed = [...runs.direct, ...runs.proxy].reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);

  const us = (n: number) => `${n.toFixed(0)} µs`;
  console.log(`node ${process.version}, ${cpus().length} cpus; app, proxy and load generator each in their own process`);
  console.log(`latency, 1 connection, ${BLOCKS * PER_BLOCK} requests each, interleaved:`);
  for (const p of [50, 99]) {
    const d = percentile(direct, p);
    const x = percentile(proxied, p);
    console.log(`  p${p}: direct ${us(d)}, through the proxy ${us(x)}, added ${us(x - d)}`);
  }
  console.log(`throughput, autocannon 50 connections, ${LOAD_SECONDS} s x 2 runs each:`);
  console.log(
    `  direct: ${rps(runs.direct).toFixed(0)} req/s (p50 ${mean(runs.direct.map((r) => r.latency.p50))} ms, p99 ${mean(runs.direct.map((r) => r.latency.p99))} ms)`,
  );
  console.log(
    `  proxy:  ${rps(runs.proxy).toFixed(0)} req/s (p50 ${mean(runs.proxy.map((r) => r.latency.p50))} ms, p99 ${mean(runs.proxy.map((r) => r.latency.p99))} ms), ${((100 * rps(runs.proxy)) / rps(runs.direct)).toFixed(0)}% of direct`,
  );
  console.log(`  failed requests (errors, timeouts, non-2xx): ${failed}`);
} finally {
  proxy.kill();
  app.kill();
}
