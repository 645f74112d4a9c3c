/**
 * Bundles each stepline Lambda function the way it ships (esbuild: ESM, node22, minified, AWS SDK
 * external as the nodejs22.x runtime provides it) and prints its size and its cold import time: a
 * fresh Node process importing the bundle, beside a bare `node -e ''` measured in the same run. Also
 * prints the size with the SDK bundled in, for teams that pin their own SDK.
 *
 *   npx tsx bench/lambda-bundles/index.ts
 *
 * Target for the webhook: under 250 KB and under 100 ms of import.
 *
 * A last group of rows ("projected") bundles the same functions with core's `import { z } from 'zod'`
 * read as `import * as z from 'zod'` (same API): the named `z` is a namespace object that esbuild must
 * keep whole, every zod locale included. It measures the change proposed for core, nothing ships so.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { bundleOptions, FUNCTION_NAMES } from '../../packages/functions/src/bundle';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
const RUNS = Number(process.env.RUNS ?? 9);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Wall time of a fresh `node` process running `code`, and what it printed. */
function run(code: string): { wallMs: number; printed: string } {
  const start = performance.now();
  const printed = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, AWS_REGION: 'us-east-1' },
  }).toString();
  return { wallMs: performance.now() - start, printed };
}

/** Reads core's `import { z } from 'zod'` as `import * as z from 'zod'`: the projection, see above. */
const zodNamespace: Plugin = {
  name: 'projected-zod-namespace',
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/]core[\\/]src[\\/].*\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/import \{ z \} from 'zod';/g, "import * as z from 'zod';"),
      loader: 'ts',
    }));
  },
};

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const rows: string[] = [];
const bare = median(Array.from({ length: RUNS }, () => run('').wallMs));

const variants: Array<{ label: string; name: (typeof FUNCTION_NAMES)[number]; adjust: (o: BuildOptions) => BuildOptions }> = [
  ...FUNCTION_NAMES.map((name) => ({ label: name, name, adjust: (o: BuildOptions) => o })),
  ...FUNCTION_NAMES.filter((n) => n === 'webhook' || n === 'source' || n === 'notify').map((name) => ({
    label: `${name} (projected)`,
    name,
    adjust: (o: BuildOptions) => ({ ...o, plugins: [...(o.plugins ?? []), zodNamespace] }),
  })),
];

for (const { label, name, adjust } of variants) {
  const entry = join(root, 'packages/functions/src/handlers', `${name}.ts`);
  const file = label.replace(/[^a-z-]+/g, '-').replace(/-+$/, '');
  const outfile = join(out, `${file}.mjs`);
  await build(adjust(bundleOptions({ entry, outfile })));
  const withSdk = await build({ ...adjust(bundleOptions({ entry, outfile: join(out, `${file}.with-sdk.mjs`), bundleSdk: true })), write: false });
  const bytes = readFileSync(outfile);
  const url = pathToFileURL(outfile).href;
  const samples = Array.from({ length: RUNS }, () =>
    run(
      `const t = performance.now(); const m = await import(${JSON.stringify(url)}); if (typeof m.handler !== 'function') process.exit(3); process.stdout.write(String(performance.now() - t));`,
    ),
  );
  const wall = median(samples.map((s) => s.wallMs));
  const inProcess = median(samples.map((s) => Number(s.printed)));
  const sdkBytes = withSdk.outputFiles?.[0]?.contents.byteLength ?? 0;
  rows.push(
    `${label.padEnd(22)} ${kb(bytes.byteLength).padStart(9)} ${kb(gzipSync(bytes).byteLength).padStart(9)} ${kb(sdkBytes).padStart(10)}   ${`${wall.toFixed(0)} ms`.padStart(7)} ${`+${(wall - bare).toFixed(0)} ms`.padStart(8)} ${`${inProcess.toFixed(0)} ms`.padStart(8)}`,
  );
}

console.log(`node ${process.version}, ${cpus().length} cpus, esbuild ESM node22 minified, @aws-sdk/* external; median of ${RUNS} fresh processes`);
console.log(
  `bare node -e '': ${bare.toFixed(0)} ms; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  `${'function'.padEnd(18)} ${'bundle'.padStart(9)} ${'gzip'.padStart(9)} ${'+SDK'.padStart(10)}   ${'process'.padStart(7)} ${'vs bare'.padStart(8)} ${'import'.padStart(8)}`,
);
for (const row of rows) console.log(row);
