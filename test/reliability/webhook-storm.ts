/**
 * A storm of signed GitHub deliveries at `stepline serve`, all at once, each delivered twice (GitHub
 * redelivers, and a proxy may retry): exactly one execution per delivery id, QUEUED order kept, never
 * a 5xx. test/reliability/webhook-storm.test.ts sends a few dozen; bench/webhook-storm sends hundreds.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { parsePipelineText } from '@stepline/core';
import { startServer } from '@stepline/local';
import { createProject } from '../helpers/project';

const SECRET = 'storm-secret';
const DEFINITION = `
name: storm
executionMode: QUEUED
triggers: [{ push: [{ branches: { includes: [main] } }] }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/storm, outputArtifacts: [Src] }]
  - name: Check
    actions: [{ name: Test, kind: invoke, command: "test -f app.txt", inputArtifacts: [Src] }]
`;

export interface StormResult {
  deliveries: number;
  requests: number;
  /** HTTP status → how many requests got it. */
  statuses: Record<number, number>;
  executions: number;
  /** Delivery ids with other than exactly one execution. */
  wrongCounts: string[];
  /** Executions that ended out of the order they were queued in. */
  outOfOrder: number;
  failed: string[];
  acceptSeconds: number;
  drainSeconds: number;
}

export async function webhookStorm(deliveries: number): Promise<StormResult> {
  const project = createProject({ 'stepline.yml': DEFINITION, 'app.txt': 'v1\n' });
  const server = await startServer({
    project: project.dir,
    repo: project.dir,
    host: '127.0.0.1',
    port: 0,
    webhookSecret: SECRET,
    pipelines: [{ pipeline: parsePipelineText(DEFINITION), file: `${project.dir}/stepline.yml` }],
    sink: { line: () => undefined },
  });
  try {
    const ids = Array.from({ length: deliveries }, () => randomUUID());
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: project.commit,
      repository: { full_name: 'acme/storm' },
      head_commit: { id: project.commit, message: 'm', timestamp: '2026-12-04T00:00:00Z' },
      commits: [{ id: project.commit, added: ['app.txt'], modified: [], removed: [] }],
    });
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const send = async (id: string) => {
      const res = await fetch(`${server.url}/webhooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': signature },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    };
    // Each id twice: once in the first wave, once in a second wave sent while the first is in flight.
    const started = performance.now();
    const statuses = await Promise.all([...ids.map(send), ...[...ids].reverse().map(send)]);
    const acceptSeconds = (performance.now() - started) / 1000;
    await server.idle();
    const drainSeconds = (performance.now() - started) / 1000;

    const executions = server.runtime.store.listExecutions('storm', deliveries * 4);
    const perDelivery = new Map<string, number>();
    for (const e of executions) perDelivery.set(e.deliveryId ?? '', (perDelivery.get(e.deliveryId ?? '') ?? 0) + 1);
    const wrongCounts = ids.filter((id) => perDelivery.get(id) !== 1);
    // QUEUED: executions go through each stage one at a time, in the order they were queued, so they
    // end in the order they started.
    const byStart = [...executions].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    let outOfOrder = 0;
    for (let i = 1; i < byStart.length; i++) if ((byStart[i]?.endedAt ?? '') < (byStart[i - 1]?.endedAt ?? '')) outOfOrder++;
    const counted: Record<number, number> = {};
    for (const s of statuses) counted[s] = (counted[s] ?? 0) + 1;
    return {
      deliveries,
      requests: statuses.length,
      statuses: counted,
      executions: executions.length,
      wrongCounts,
      outOfOrder,
      failed: executions.filter((e) => e.status !== 'Succeeded').map((e) => `${e.id}: ${e.status} ${e.cause ?? ''}`),
      acceptSeconds,
      drainSeconds,
    };
  } finally {
    await server.close();
    project.remove();
  }
}
