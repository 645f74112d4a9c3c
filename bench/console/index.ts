/**
 * The console with a long history: the example pipeline run once for real, its execution then copied
 * until the history holds 1,000 and then 10,000 executions (events, builds, approvals and artifacts
 * with it). `stepline dashboard` serves it in its own process; this script measures, for the
 * pipeline page and an execution page, the time to the first byte and to the whole body over HTTP,
 * and the time Chromium takes to load and render the page (`load` fired, sections painted).
 *
 *   npx tsx bench/console/index.ts [samples=15]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, HistoryStore } from '@stepline/local';
import { chromium } from 'playwright-core';

const samples = Number(process.argv[2] ?? 15);
const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'packages', 'cli', 'bin', 'stepline.js');
const dir = mkdtempSync(join(tmpdir(), 'stepline-console-bench-'));
const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@example.com' };

async function prepare(): Promise<string> {
  cpSync(join(root, 'examples', 'web-app'), join(dir, 'examples', 'web-app'), { recursive: true, filter: (s) => !/node_modules|dist|reports/.test(s) });
  const file = join(dir, 'examples', 'web-app', 'stepline.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('port: 18631', `port: ${await freePort()}`));
  writeFileSync(join(dir, '.gitignore'), '.stepline/\n');
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir, env });
  execFileSync('git', ['add', '-A'], { cwd: dir, env });
  execFileSync('git', ['commit', '-q', '-m', 'bench'], { cwd: dir, env });
  const run = spawnSync(process.execPath, [cli, 'run', 'examples/web-app/stepline.yml', '--approve', 'auto'], { cwd: dir, env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`stepline run failed:\n${run.stdout}\n${run.stderr}`);
  const store = new HistoryStore(join(dir, '.stepline', 'stepline.db'));
  const [only] = store.listExecutions('web-app', 1);
  store.close();
  if (!only) throw new Error('the run recorded no execution');
  return only.id;
}

/** Copies the real execution until the history holds `total`, each copy one second older than the last. */
function grow(source: string, total: number): void {
  const store = new HistoryStore(join(dir, '.stepline', 'stepline.db'));
  const db = store.db;
  const have = Number((db.prepare('SELECT COUNT(*) AS n FROM executions').get() as { n: number }).n);
  const copy = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = `${source}-copy${String(i).padStart(5, '0')}`;
      const shift = `-${i} seconds`;
      db.prepare(
        `INSERT INTO executions (id, pipeline, status, trigger_type, delivery_id, started_at, ended_at, error, cause, input, definition_file, pid, stop_requested, attempt, commit_id, branch)
         SELECT ?, pipeline, status, trigger_type, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', started_at, ?), strftime('%Y-%m-%dT%H:%M:%fZ', ended_at, ?), error, cause, input, definition_file, NULL, NULL, attempt, commit_id, branch FROM executions WHERE id = ?`,
      ).run(id, shift, shift, source);
      db.prepare('INSERT INTO events SELECT ?, seq, type, state, at, error, cause FROM events WHERE execution_id = ?').run(id, source);
      db.prepare(
        'INSERT INTO builds SELECT ?, stage, action, build_id, status, log_file, phases, reports, started_at, ended_at FROM builds WHERE execution_id = ?',
      ).run(id, source);
      db.prepare(
        'INSERT INTO approvals SELECT ? || id, ?, pipeline, stage, action, status, custom_data, external_link, commit_id, approvers, requested_at, expires_at, decided_by, comment, decided_at FROM approvals WHERE execution_id = ?',
      ).run(`${i}-`, id, source);
      db.prepare('INSERT INTO artifacts SELECT ?, name, dir, files, created_at FROM artifacts WHERE execution_id = ?').run(id, source);
    }
  });
  copy(have, total);
  db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
const p95 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil(v.length * 0.95) - 1)] ?? Number.NaN;
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function http(url: string): Promise<{ ttfb: number; full: number; bytes: number }> {
  const start = performance.now();
  const res = await fetch(url);
  const ttfb = performance.now() - start;
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ttfb, full: performance.now() - start, bytes: body.length };
}

async function measure(total: number, executionId: string): Promise<string[]> {
  const port = await freePort();
  const server = spawn(process.execPath, [cli, 'dashboard', '--port', String(port)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (d: Buffer) => String(d).includes('stepline dashboard') && resolve());
    server.once('exit', (code) => reject(new Error(`dashboard exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  // The same execution as JSON from the API, side by side: what reading the history costs without the page.
  const pages = [
    ['pipeline page', '/pipelines/web-app'],
    ['execution page', `/executions/${encodeURIComponent(executionId)}`],
    ['execution JSON (API, for comparison)', `/api/executions/${encodeURIComponent(executionId)}`],
  ] as const;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const rows: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    for (const [name, path] of pages) {
      await http(base + path); // warm: the first request compiles the pipeline once
      const ttfb: number[] = [];
      const full: number[] = [];
      const render: number[] = [];
      let bytes = 0;
      for (let i = 0; i < samples; i++) {
        const r = await http(base + path);
        ttfb.push(r.ttfb);
        full.push(r.full);
        bytes = r.bytes;
        if (path.startsWith('/api/')) continue;
        const start = performance.now();
        await page.goto(base + path, { waitUntil: 'load' });
        await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
        render.push(performance.now() - start);
      }
      rows.push(
        `| ${total.toLocaleString('en')} | ${name} | ${ms(median(ttfb))} / ${ms(p95(ttfb))} | ${ms(median(full))} / ${ms(p95(full))} | ${render.length ? `${ms(median(render))} / ${ms(p95(render))}` : '—'} | ${(bytes / 1024).toFixed(0)} KB |`,
      );
    }
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  return rows;
}

try {
  const source = await prepare();
  const out = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ${samples} samples per page (median / p95)`,
    '',
    '| executions | page | first byte | whole body | Chromium load + paint | HTML |',
    '| ---------- | ---- | ---------- | ---------- | --------------------- | ---- |',
  ];
  for (const total of [1_000, 10_000]) {
    grow(source, total);
    out.push(...(await measure(total, source)));
  }
  console.log(out.join('\n'));
} finally {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
