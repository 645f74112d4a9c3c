/**
 * The fuzzing of test/reliability with large counts: 10,000 cases per surface (or the count given),
 * each with a fresh random seed that is printed, so any failure can be replayed in the test with
 * FUZZ_SEED=<seed> FUZZ_RUNS=<n>. Prints, per surface: cases, failures, the first failure, and time.
 *
 *   npx tsx bench/fuzz/index.ts [cases]
 */
import { loadavg } from 'node:os';
import fc from 'fast-check';
import * as fuzz from '../../test/reliability/fuzz-properties';

const RUNS = Number(process.argv[2] ?? 10_000);
interface Outcome {
  surface: string;
  cases: number;
  failed: boolean;
  seed: number;
  seconds: number;
  first?: string;
}

/** What fast-check's check() says, as much of it as is printed. */
interface Checked {
  numRuns: number;
  failed: boolean;
  counterexample: unknown;
  errorInstance: unknown;
}

async function measure(surface: string, run: (seed: number) => Promise<Checked> | Checked): Promise<Outcome> {
  const seed = Date.now() ^ Math.floor(Math.random() * 2 ** 31);
  const started = performance.now();
  const details = await run(seed);
  const seconds = (performance.now() - started) / 1000;
  const outcome: Outcome = { surface, cases: details.numRuns, failed: details.failed, seed, seconds };
  if (details.failed) outcome.first = `${String(details.errorInstance ?? '').split('\n')[0]} | input: ${JSON.stringify(details.counterexample).slice(0, 300)}`;
  return outcome;
}

const http = (url: string, cases: fc.Arbitrary<fuzz.HttpCase>) =>
  fc.asyncProperty(cases, async (c) => {
    const why = await fuzz.badAnswer(url, c);
    if (why) throw new Error(why);
  });

console.log(
  `bench/fuzz: ${RUNS} cases per surface; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const { server, close } = await fuzz.fuzzedServer();
const outcomes: Outcome[] = [];
try {
  outcomes.push(await measure('definitions', (seed) => fc.check(fuzz.definitionProperty(), { numRuns: RUNS, seed })));
  outcomes.push(await measure('buildspecs', (seed) => fc.check(fuzz.buildspecProperty(), { numRuns: RUNS, seed })));
  outcomes.push(await measure('codepipeline import', (seed) => fc.check(fuzz.importerProperty(), { numRuns: RUNS, seed })));
  outcomes.push(await measure('serve: webhooks', (seed) => fc.check(http(server.url, fuzz.webhookCases(fuzz.FUZZ_WEBHOOK_SECRET)), { numRuns: RUNS, seed })));
  outcomes.push(await measure('serve: approval links', (seed) => fc.check(http(server.url, fuzz.approvalCases()), { numRuns: RUNS, seed })));
  const started = server.runtime.store.listExecutions().length;
  console.log(`executions started by the fuzzed webhooks: ${started} (expected 0)`);
} finally {
  await close();
}
for (const o of outcomes) {
  console.log(
    `${o.surface.padEnd(22)} ${String(o.cases).padStart(6)} cases  ${o.failed ? 'FAILED' : 'held  '}  ${o.seconds.toFixed(1).padStart(6)} s  seed ${o.seed}${o.first ? `\n    ${o.first}` : ''}`,
  );
}
process.exitCode = outcomes.some((o) => o.failed) ? 1 : 0;
