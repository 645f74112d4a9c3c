/**
 * Fuzzing in npm test: 200 cases for each surface stepline reads from outside. The seed is fixed, so
 * that CI is repeatable; bench/fuzz runs 10,000 cases with fresh seeds and prints them, and any failure
 * it finds replays here with FUZZ_SEED=<seed> FUZZ_RUNS=<n>.
 */
import { request } from 'node:http';
import { parsePipelineText } from '@stepline/core';
import { type RunningServer, startServer } from '@stepline/local';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, type Project } from '../helpers/project';
import { approvalCases, badAnswer, buildspecProperty, definitionProperty, importerProperty, webhookCases } from './fuzz-properties';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_204);
const settings = { numRuns: RUNS, seed: SEED };

describe('parsers refuse bad input with a clear message, never a crash', () => {
  it('pipeline definitions (parse and compile)', () => {
    fc.assert(definitionProperty(), settings);
  });
  it('buildspecs', () => {
    fc.assert(buildspecProperty(), settings);
  });
  it('CodePipeline JSON and CloudFormation imports', () => {
    fc.assert(importerProperty(), settings);
  });
});

describe('stepline serve answers any request without a 5xx or a stack trace', () => {
  const SECRET = 'fuzz-secret';
  // No trigger matches what the fuzzer sends, so no execution starts: the endpoints are what is tried.
  const DEFINITION = `
name: fuzzed
triggers: [{ push: [{ branches: { includes: [never-pushed] } }] }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/svc, outputArtifacts: [Src] }]
  - name: Check
    actions: [{ name: Test, kind: invoke, command: "true", inputArtifacts: [Src] }]
`;
  let project: Project;
  let server: RunningServer;
  beforeAll(async () => {
    project = createProject({ 'stepline.yml': DEFINITION });
    server = await startServer({
      project: project.dir,
      repo: project.dir,
      host: '127.0.0.1',
      port: 0,
      webhookSecret: SECRET,
      pipelines: [{ pipeline: parsePipelineText(DEFINITION), file: `${project.dir}/stepline.yml` }],
      sink: { line: () => undefined },
    });
  });
  afterAll(async () => {
    await server?.close();
    project?.remove();
  });

  it('answers a 4xx to request targets such as //host, which new URL() reads as another host, and keeps serving (found by bench/fuzz)', async () => {
    const { port } = new URL(server.url);
    for (const path of ['//%2C%3Fs', '//a%20b/x', '*']) {
      const status = await new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect([path, status >= 400 && status < 500]).toStrictEqual([path, true]);
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('GitHub webhooks', async () => {
    await fc.assert(
      fc.asyncProperty(webhookCases(SECRET), async (c) => {
        const why = await badAnswer(server.url, c);
        if (why) throw new Error(why);
      }),
      settings,
    );
    expect(server.runtime.store.listExecutions()).toStrictEqual([]);
  });

  it('approval links', async () => {
    await fc.assert(
      fc.asyncProperty(approvalCases(), async (c) => {
        const why = await badAnswer(server.url, c);
        if (why) throw new Error(why);
      }),
      settings,
    );
  });
});
