/**
 * The local ALB (the canary's weighted proxy) beside nginx, on the same app, in the same run. Each
 * proxy sends the app's traffic through two weighted routes (90/10, as a canary's first step) to the
 * same app process; app, stepline's proxy, nginx (one worker, kept-alive upstream connections) and
 * the load generator each run in their own process.
 *
 * - Added latency: one keep-alive connection sending requests one after another, timed with hrtime,
 *   direct, through nginx and through stepline's proxy in interleaved blocks; p50 and p99.
 * - Throughput: autocannon, 50 connections, direct, nginx and stepline interleaved, `--rounds` times
 *   each; requests per second and autocannon's latency percentiles under that load.
 *   Beside it, the CPU time each proxy process spent per request under that load (from /proc: user +
 *   system, the nginx worker and stepline's proxy process), which the machine's other work disturbs less.
 * - Weights changing under load: autocannon through stepline's proxy while its weights change every
 *   20 ms (90/10, 50/50, 0/100, 100/0, …); every request must succeed.
 *
 * Needs nginx from Debian's packages: `apt-get install -y nginx`.
 *
 *   npx tsx bench/proxy/index.ts [--seconds 8] [--rounds 2]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePort } from '../../packages/local/src/canary/processes';
import { startNginx } from './nginx';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '2' } } });
const here = import.meta.dirname;
const BLOCKS = 10;
const PER_BLOCK = 1_000;
const LOAD_SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);

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

/** User and system CPU time of a process, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
type Result = Awaited<ReturnType<typeof autocannon>>;
const failedOf = (rs: Result[]) => rs.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);

const { app, proxy, appPort, proxyPort } = await start();
const nginx = await startNginx(appPort, await freePort());
const targets = { direct: appPort, nginx: nginx.port, stepline: proxyPort } as const;
type Target = keyof typeof targets;
const names = Object.keys(targets) as Target[];
const loadAtStart = loadavg();
try {
  const agents = Object.fromEntries(names.map((n) => [n, new Agent({ keepAlive: true, maxSockets: 1 })])) as Record<Target, Agent>;
  for (const n of names) await sequential(targets[n], 2_000, agents[n]);
  const latency = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Target, number[]>;
  for (let block = 0; block < BLOCKS; block++) for (const n of names) latency[n].push(...(await sequential(targets[n], PER_BLOCK, agents[n])));
  for (const n of names) latency[n].sort((a, b) => a - b);

  const load = (port: number) => autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: LOAD_SECONDS });
  const runs = Object.fromEntries(names.map((n) => [n, [] as Result[]])) as Record<Target, Result[]>;
  const pids: Partial<Record<Target, number>> = { nginx: nginx.workerPid(), stepline: proxy.pid ?? 0 };
  const cpuMicros: Partial<Record<Target, Array<{ user: number; system: number }>>> = { nginx: [], stepline: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of names) {
      const pid = pids[n];
      const before = pid ? cpuMs(pid) : undefined;
      const result = await load(targets[n]);
      runs[n].push(result);
      if (pid && before) {
        const after = cpuMs(pid);
        const per = (ms: number) => (ms * 1000) / result.requests.total;
        cpuMicros[n]?.push({ user: per(after.user - before.user), system: per(after.system - before.system) });
      }
    }
  }

  // Weights changing every 20 ms while the proxy is under load.
  const steps: Array<[number, number]> = [
    [90, 10],
    [50, 50],
    [0, 100],
    [100, 0],
    [10, 90],
  ];
  let step = 0;
  const changer = setInterval(() => proxy.send({ weights: steps[step++ % steps.length] }), 20);
  const changing = await load(proxyPort);
  clearInterval(changer);
  proxy.send({ weights: [90, 10] });

  const us = (n: number) => `${n.toFixed(0)} µs`;
  const rps = (n: Target) => mean(runs[n].map((r) => r.requests.average));
  const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(
    `node ${process.version}, ${nginx.version} (1 worker), ${availableParallelism()} cpus, load average ${fmt(loadAtStart)} at start, ${fmt(loadavg())} at end`,
  );
  console.log(`latency, 1 connection, ${BLOCKS * PER_BLOCK} requests each, interleaved blocks:`);
  for (const p of [50, 99]) {
    const d = percentile(latency.direct, p);
    const x = percentile(latency.nginx, p);
    const s = percentile(latency.stepline, p);
    console.log(
      `  p${p}: direct ${us(d)}; nginx ${us(x)} (added ${us(x - d)}); stepline ${us(s)} (added ${us(s - d)}, ${((s - d) / (x - d)).toFixed(2)}x nginx's)`,
    );
  }
  console.log(`throughput, autocannon 50 connections, ${LOAD_SECONDS} s x ${ROUNDS} rounds each, interleaved:`);
  for (const n of names) {
    console.log(
      `  ${n.padEnd(8)} ${rps(n).toFixed(0).padStart(6)} req/s  (p50 ${mean(runs[n].map((r) => r.latency.p50))} ms, p99 ${mean(runs[n].map((r) => r.latency.p99))} ms)  failed ${failedOf(runs[n])}`,
    );
  }
  console.log(
    `  stepline / nginx: ${((100 * rps('stepline')) / rps('nginx')).toFixed(0)}%; nginx / direct: ${((100 * rps('nginx')) / rps('direct')).toFixed(0)}%`,
  );
  const cpu = (n: Target, part: 'user' | 'system') => mean((cpuMicros[n] ?? []).map((c) => c[part]));
  const perRequest = (n: Target) => cpu(n, 'user') + cpu(n, 'system');
  const split = (n: Target) => `${perRequest(n).toFixed(0)} µs (user ${cpu(n, 'user').toFixed(0)} + system ${cpu(n, 'system').toFixed(0)})`;
  console.log(
    `  CPU per request in the proxy process: nginx ${split('nginx')}, stepline ${split('stepline')} (${(perRequest('stepline') / perRequest('nginx')).toFixed(1)}x)`,
  );
  console.log(
    `weights changed every 20 ms under load (${step} changes): ${changing.requests.average.toFixed(0)} req/s, ${changing.requests.total} requests, failed ${failedOf([changing])}`,
  );
} finally {
  proxy.kill();
  app.kill();
  nginx.stop();
}
