/**
 * Compiles a 200-stage pipeline (two parallel builds and an approval per stage) and prints the time,
 * beside a 20-stage one (how compile time scales) and beside asl-validator on the same output (what
 * the optional full check costs). Median of several runs after a warm-up.
 *
 *   npx tsx bench/compile/index.ts
 */
import { compilePipeline, type PipelineDefinition, parsePipeline, validateStateMachine } from '@stepline/core';

function definition(stages: number): PipelineDefinition {
  return {
    name: `bench-${stages}`,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/app', outputArtifacts: ['Src'], namespace: 'SourceVariables' }] },
      ...Array.from({ length: stages - 1 }, (_, i) => ({
        name: `Stage${i + 1}`,
        actions: [
          { name: 'Build', kind: 'build' as const, inputArtifacts: ['Src'], environmentVariables: { COMMIT: '#{SourceVariables.CommitId}' } },
          { name: 'Test', kind: 'test' as const, inputArtifacts: ['Src'] },
          { name: 'Approve', kind: 'approval' as const, runOrder: 2 },
        ],
      })),
    ],
  };
}

function median(fn: () => void, runs: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

const big = definition(200);
const small = definition(20);
const bigParsed = parsePipeline(big);
const compiled = compilePipeline(bigParsed);
const states = JSON.stringify(compiled.definition).length;

const parseAndCompile200 = median(() => compilePipeline(parsePipeline(big)), 15);
const parseAndCompile20 = median(() => compilePipeline(parsePipeline(small)), 15);
const compileOnly200 = median(() => compilePipeline(bigParsed), 15);
const aslValidator200 = median(() => validateStateMachine(compiled.definition), 5);

const ms = (n: number) => `${n.toFixed(1)} ms`;
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cpus`);
console.log(`200 stages, 600 actions -> ${Object.keys(compiled.definition.States).length} top-level states, ${(states / 1024).toFixed(0)} KiB of ASL`);
console.log(`parse + compile, 200 stages:  ${ms(parseAndCompile200)}`);
console.log(`compile only,    200 stages:  ${ms(compileOnly200)}`);
console.log(
  `parse + compile,  20 stages:  ${ms(parseAndCompile20)}  (200/20 ratio ${(parseAndCompile200 / parseAndCompile20).toFixed(1)}x for 10x the stages)`,
);
console.log(`asl-validator on the 200-stage output: ${ms(aslValidator200)}  (${(aslValidator200 / parseAndCompile200).toFixed(1)}x parse + compile)`);
