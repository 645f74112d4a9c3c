/**
 * Fuzzing of what stepline reads from outside: definitions, buildspecs, CodePipeline imports, and the
 * webhook and approval endpoints of `stepline serve`. Inputs are real documents (the corpus) mutated at
 * random paths, plus raw text; the property is always the same: a refusal is a clear message (a
 * DefinitionError naming a path, or a 4xx with a JSON or HTML body), never a crash, a stack trace or
 * a 5xx. test/reliability/fuzz.test.ts runs each with a small count, bench/fuzz with a large one.
 */
import { createHmac } from 'node:crypto';
import {
  ApprovalDecision,
  compilePipeline,
  DefinitionError,
  importCodePipeline,
  parseBuildspec,
  parseBuildspecText,
  parsePipeline,
  parsePipelineText,
  signApprovalLink,
  toSteplineYaml,
} from '@stepline/core';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { corpusFiles } from '../helpers/corpus';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Why a thrown value is not an acceptable refusal, or undefined when it is one. */
export function badRefusal(error: unknown): string | undefined {
  if (!(error instanceof DefinitionError)) return `threw ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`;
  const message = error.message;
  if (message.trim() === '') return 'a DefinitionError with no message';
  if (/\n\s+at .+:\d+:\d+/.test(message)) return `a stack trace in the message: ${message}`;
  if (/\[object Object\]|\bundefined\b: /.test(message)) return `an unreadable message: ${message}`;
  return undefined;
}

/** Runs `work`; an exception that is not a clear refusal fails the property with why. */
function refusesClearly(work: () => void): void {
  try {
    work();
  } catch (error) {
    const why = badRefusal(error);
    if (why) throw new Error(why);
  }
}

// ---- mutation of real documents ----------------------------------------------------------------

const leaf: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation ${} reference, as a user writes it
  fc.constantFrom('', '#{', '#{SourceVariables.CommitId}', '#{variables.X}', '${Foo}', '..', 'a/../../b', '**/*', '\u0000', 'ℌ·💥', '-1', '1e400'),
);
const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((t) => JSON.parse(t) as Json) },
);

/** Every path to a value in a document (objects and arrays), root excluded. */
function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  const children: Array<[string | number, Json]> = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : value && typeof value === 'object'
      ? Object.entries(value)
      : [];
  for (const [key, child] of children) {
    out.push([...prefix, key]);
    paths(child, [...prefix, key], out);
  }
  return out;
}

type Mutation = { kind: 'replace' | 'delete' | 'wrap' | 'duplicate'; at: number; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace', 'delete', 'wrap', 'duplicate'),
  at: fc.nat(),
  value: anyJson,
});

function mutate(document: Json, mutations: readonly Mutation[]): Json {
  const copy = structuredClone(document);
  for (const m of mutations) {
    const all = paths(copy);
    if (all.length === 0) return m.value;
    const path = all[m.at % all.length] as Array<string | number>;
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string, Json>)[k] as Json, copy) as Record<string, Json> | Json[];
    const key = path[path.length - 1] as string | number;
    const current = (parent as Record<string, Json>)[key] as Json;
    if (m.kind === 'replace') (parent as Record<string, Json>)[key] = m.value;
    else if (m.kind === 'wrap') (parent as Record<string, Json>)[key] = [current];
    else if (m.kind === 'duplicate' && Array.isArray(parent)) parent.push(structuredClone(current));
    else if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete (parent as Record<string, Json>)[key];
  }
  return copy;
}

/** A real document, mutated a few times, as a value and as the text a user would write. */
function mutatedDocuments(seeds: readonly Json[]): fc.Arbitrary<{ value: Json; text: string }> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([seed, mutations, asJson]) => {
    const value = mutate(seed, mutations);
    return { value, text: asJson ? JSON.stringify(value) : stringify(value) };
  });
}

/** Raw text: random strings, YAML-looking fragments, and real documents cut or spliced. */
function rawTexts(seedTexts: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.constantFrom('', '---', '[]', '{}', 'null', '~', '*a', '&a [*a]', '!Ref x', '!!binary AAAA', 'a: &x\n  b: *x', '\uFEFFname: x', 'x: "\\u0000"'),
    fc
      .tuple(fc.constantFrom(...seedTexts), fc.nat(), fc.nat())
      .map(([text, a, b]) => text.slice(Math.min(a, b) % (text.length + 1), Math.max(a, b) % (text.length + 1))),
    fc
      .tuple(fc.constantFrom(...seedTexts), fc.nat(), fc.string({ maxLength: 20 }))
      .map(([text, at, insert]) => text.slice(0, at % (text.length + 1)) + insert + text.slice(at % (text.length + 1))),
  );
}

// ---- the surfaces -----------------------------------------------------------------------------------

const WEB_APP = `
name: web
variables: [{ name: DEPLOY_ENV, default: staging }]
triggers:
  - push: [{ branches: { includes: [main] }, filePaths: { excludes: ["docs/**"] } }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src], namespace: SourceVariables }]
  - name: Build
    actions:
      - { name: Build, kind: build, inputArtifacts: [Src], outputArtifacts: [App], namespace: BuildVariables }
      - { name: UnitTests, kind: test, inputArtifacts: [Src], buildspec: buildspec-test.yml }
  - name: Approve
    actions: [{ name: Release, kind: approval, customData: "Deploy #{SourceVariables.CommitId} to #{variables.DEPLOY_ENV}?" }]
  - name: Deploy
    actions:
      - name: Canary
        kind: deploy
        inputArtifacts: [App]
        strategy: CodeDeployDefault.ECSCanary10Percent5Minutes
        local: { command: node server.js, port: 8080 }
`;

/** Definitions: parse, and when one parses, compile it; both refuse only with DefinitionError. */
export function definitionProperty(): fc.IPropertyWithHooks<[{ value: Json; text: string } | string]> {
  const seed = parsePipelineText(WEB_APP) as unknown as Json;
  const seeds = [JSON.parse(JSON.stringify(seed)) as Json];
  return fc.property(fc.oneof(mutatedDocuments(seeds), rawTexts([WEB_APP])), (input) =>
    refusesClearly(() => {
      const pipeline = typeof input === 'string' ? parsePipelineText(input, 'stepline.yml') : parsePipeline(input.value, 'stepline.yml');
      compilePipeline(pipeline);
    }),
  );
}

/** Buildspecs: the corpus's real ones, mutated, as values and as text. */
export function buildspecProperty(): fc.IPropertyWithHooks<[{ value: Json; text: string } | string]> {
  const files = corpusFiles('buildspecs');
  const seeds: Json[] = [];
  for (const file of files) {
    try {
      seeds.push(JSON.parse(JSON.stringify(parseBuildspecText(file.text).buildspec)) as Json);
    } catch {
      // a corpus file stepline refuses still seeds the raw-text arbitrary
    }
  }
  return fc.property(fc.oneof(mutatedDocuments(seeds), rawTexts(files.map((f) => f.text))), (input) =>
    refusesClearly(() => {
      if (typeof input === 'string') parseBuildspecText(input, 'buildspec.yml');
      else if (input.value && typeof input.value === 'object') parseBuildspec(input.value, 'buildspec.yml');
      else parseBuildspecText(input.text, 'buildspec.yml');
    }),
  );
}

/** CodePipeline JSON and CloudFormation templates: the corpus's real ones, mutated, through to YAML. */
export function importerProperty(): fc.IPropertyWithHooks<[{ value: Json; text: string } | string]> {
  const files = corpusFiles('pipelines');
  const seeds = files.filter((f) => f.name.endsWith('.json')).map((f) => JSON.parse(f.text) as Json);
  return fc.property(fc.oneof(mutatedDocuments(seeds), rawTexts(files.map((f) => f.text))), (input) =>
    refusesClearly(() => {
      const text = typeof input === 'string' ? input : input.text;
      for (const imported of importCodePipeline(text, typeof input === 'string' ? 'pipeline.yml' : 'pipeline.json')) toSteplineYaml(imported);
    }),
  );
}

// ---- HTTP endpoints of serve ------------------------------------------------------------------------

export interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const headerText = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, ''));

/** Webhook deliveries: random and real-shaped bodies, signed right, wrong, or not at all. */
export function webhookCases(secret: string): fc.Arbitrary<HttpCase> {
  const push = fc
    .record({
      ref: fc.oneof(fc.constantFrom('refs/heads/main', 'refs/tags/v1', 'refs/heads/'), fc.string({ maxLength: 20 })),
      after: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string({ maxLength: 45 })),
      deleted: fc.boolean(),
      repository: fc.oneof(fc.constant({ full_name: 'acme/svc' }), anyJson),
      commits: fc.oneof(fc.array(fc.record({ id: fc.string(), added: fc.array(fc.string()) }), { maxLength: 3 }), anyJson),
    })
    .map((v) => JSON.stringify(v));
  const body = fc.oneof(push, fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 }));
  return fc
    .record({
      body,
      event: fc.oneof(fc.constantFrom('push', 'ping', 'pull_request', 'issues'), headerText),
      signing: fc.constantFrom('right', 'wrong', 'none', 'garbage'),
      delivery: fc.oneof(fc.uuid(), headerText),
      contentType: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''),
    })
    .map(({ body, event, signing, delivery, contentType }) => {
      const headers: Record<string, string> = { 'x-github-event': event, 'x-github-delivery': delivery };
      if (contentType) headers['content-type'] = contentType;
      const digest = createHmac('sha256', signing === 'wrong' ? `${secret}x` : secret)
        .update(body)
        .digest('hex');
      if (signing === 'right' || signing === 'wrong') headers['x-hub-signature-256'] = `sha256=${digest}`;
      if (signing === 'garbage') headers['x-hub-signature-256'] = 'sha256=zz';
      return { method: 'POST', path: '/webhooks/github', headers, body };
    });
}

/** Approval links: random and link-shaped tokens (signed with another key), GET and POST, random forms. */
export function approvalCases(): fc.Arbitrary<HttpCase> {
  const forged = fc
    .record({
      approvalId: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
      decision: fc.constantFrom(ApprovalDecision.Approve, ApprovalDecision.Reject),
      expiresAt: fc.integer({ min: 0, max: 999_999_999_999 }),
    })
    .map((claims) => signApprovalLink('not-the-key', claims));
  const segment = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_.-]{0,40}$/),
    fc.constantFrom('%', '%zz', '..', '%2e%2e', '%E0%A4%A', 'approve', 'reject'),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
    forged,
  );
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'),
      parts: fc.array(segment, { minLength: 0, maxLength: 3 }),
      body: fc.oneof(
        fc.string({ maxLength: 200 }),
        fc
          .record({ token: fc.string({ maxLength: 80 }), comment: fc.string({ maxLength: 3000 }), email: fc.string({ maxLength: 60 }) })
          .map((r) => new URLSearchParams(r).toString()),
      ),
    })
    .map(({ method, parts, body }) => ({
      method,
      path: `/approvals/${parts.join('/')}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: method === 'GET' || method === 'HEAD' ? '' : body,
    }));
}

/** Sends one case; why the answer is not acceptable (a 5xx, a stack trace, a dropped connection), or undefined. */
export async function badAnswer(baseUrl: string, c: HttpCase): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${c.path}`, { method: c.method, headers: c.headers, ...(c.body !== '' && { body: c.body }) });
  } catch (error) {
    // fetch refuses some URLs itself (a bad percent-encoding is fine for it; a bad header is not).
    if (error instanceof TypeError && /header|Invalid URL/i.test(`${error.message} ${String((error as { cause?: unknown }).cause)}`)) return undefined;
    return `${c.method} ${c.path}: the connection failed: ${(error as Error).message}`;
  }
  const text = await res.text();
  if (res.status >= 500) return `${c.method} ${c.path} answered ${res.status}: ${text.slice(0, 200)}`;
  if (/\n\s+at .+:\d+:\d+/.test(text)) return `${c.method} ${c.path} answered with a stack trace: ${text.slice(0, 300)}`;
  return undefined;
}
