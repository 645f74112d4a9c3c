/**
 * `stepline serve`: one process that makes a machine a small CI. It receives GitHub, GitLab and
 * Bitbucket webhooks at `/webhooks/github`, `/webhooks/gitlab` and `/webhooks/bitbucket` (each
 * authenticated as its host documents, deliveries deduplicated, triggers applied by core's
 * `decideWebhook`; one secret for all three), runs
 * the pipelines they start in the embedded runtime (the compiled gates apply QUEUED and SUPERSEDED),
 * serves the approval pages and the live console (`/`), and answers `/api/executions` with JSON.
 * `stepline dashboard` is the same server without webhooks.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decideWebhook, executionName, type Pipeline, readWebhookHeaders, WEBHOOK_PROVIDERS, WebhookPayloadError, type WebhookProvider } from '@stepline/core';
import { LocalConsole } from '../console/local-console';
import { executionDetail, executionSummary, localPipelineState } from '../queries';
import { LocalRuntime } from '../runtime/local-runtime';
import { queuedOrphans } from '../runtime/orphans';
import type { ProgressSink } from '../runtime/progress';
import { handleApprovalRoute } from './approval-routes';
import { decodeSegment, HttpError, readBody, requestUrl } from './body';
import { ConsoleAuth, isLoopback } from './console-auth';
import { ConsoleRoutes } from './console-routes';

/** GitHub caps webhook payloads at 25 MB; anything larger is refused before it is read. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

export interface ServeOptions {
  project: string;
  repo: string;
  host: string;
  port: number;
  /** The GitHub webhook's secret; without one (`stepline dashboard`), no webhook is served. */
  webhookSecret?: string;
  pipelines: ReadonlyArray<{ pipeline: Pipeline; file: string }>;
  sink: ProgressSink;
  /** The URL people reach this server at, for approval links. @default http://<host>:<port> */
  publicUrl?: string;
  /** Wait state name → ms, for tests. */
  waitTimeOverrides?: Record<string, number>;
}

export interface RunningServer {
  url: string;
  runtime: LocalRuntime;
  /** The console's login token, needed when the server listens beyond this machine. */
  consoleToken: string;
  requiresLogin: boolean;
  /** Resolves when every execution started so far has ended. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  if (options.webhookSecret === '') throw new Error('a webhook secret is required: set STEPLINE_WEBHOOK_SECRET to the secret configured on the GitHub webhook');
  const webhookSecret = options.webhookSecret;
  const byName = new Map(options.pipelines.map((p) => [p.pipeline.name, p]));
  let publicUrl = options.publicUrl ?? '';
  const runtime = new LocalRuntime({
    project: options.project,
    sink: options.sink,
    keepLive: true,
    approval: {
      mode: 'link',
      baseUrl: async () => publicUrl,
      announce: (approval, links) => {
        options.sink.line(`approval needed: ${approval.pipeline} ${approval.executionId} ${approval.stage} · ${approval.action}`);
        if (links) options.sink.line(`  approve: ${links.approveUrl}\n  reject:  ${links.rejectUrl}`);
      },
    },
    ...(options.waitTimeOverrides && { waitTimeOverrides: options.waitTimeOverrides }),
  });
  const inFlight = new Set<Promise<unknown>>();
  // Every verb knows the served pipelines at once, not only after their first run.
  for (const p of options.pipelines) runtime.store.rememberPipeline(p.pipeline.name, p.file, new Date().toISOString());
  const launch = (work: Promise<unknown>, what: string) => {
    const run = work
      .then((result) => {
        const r = result as { executionId?: string; status?: string; cause?: string } | undefined;
        if (r?.status) options.sink.line(`${what}: ${r.status}${r.cause ? ` (${r.cause})` : ''}`);
      })
      .catch((error: unknown) => options.sink.line(`${what}: could not run: ${(error as Error).message}`));
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  };
  // A server killed while executions waited to enter a stage (QUEUED, or a held transition) owes them
  // their run: they go on from that stage's entry, as retry-stage-execution would take them.
  for (const { execution, stage } of queuedOrphans(runtime.store, new Set(byName.keys()))) {
    const entry = byName.get(execution.pipeline);
    if (!entry) continue;
    options.sink.line(`resuming ${execution.id}: it was waiting to enter ${stage} when the server before this one ended`);
    launch(runtime.retry(execution.id, options.repo, execution.machine ? undefined : entry.pipeline), `${execution.pipeline} ${execution.id}`);
  }
  const consoleSource = new LocalConsole({ runtime, pipelines: () => byName, repo: options.repo, launch });
  const auth = new ConsoleAuth(runtime.approvals.key, !isLoopback(options.host));
  const consoleRoutes = new ConsoleRoutes({ source: consoleSource, auth });

  async function webhook(req: IncomingMessage, res: ServerResponse, secret: string, provider: WebhookProvider): Promise<void> {
    const body = await readBody(req, MAX_WEBHOOK_BYTES);
    const headers = readWebhookHeaders(provider, (name) => header(req, name));
    if (!(await provider.verify(secret, body, headers.signature))) {
      json(res, 401, { error: `${provider.signatureHeader} does not match this server's webhook secret` });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      json(res, 400, { error: 'the body is not JSON (set the webhook content type to application/json)' });
      return;
    }
    const { event, deliveryId } = headers;
    const decision = decideWebhook(provider, { event, deliveryId, payload, pipelines: [...byName.values()].map((p) => p.pipeline) });
    if (decision.kind === 'pong') {
      json(res, 200, { ok: true, pipelines: [...byName.keys()] });
      return;
    }
    if (decision.kind === 'ignored') {
      options.sink.line(`webhook ${deliveryId ?? ''} ignored: ${decision.reason}`);
      json(res, 200, { started: [], ignored: decision.reason });
      return;
    }
    const started: Array<{ pipeline: string; executionId: string; duplicate?: boolean }> = [];
    for (const start of decision.starts) {
      const entry = byName.get(start.pipeline);
      if (!entry) continue;
      const existing = start.input.trigger.deliveryId ? runtime.store.findByDelivery(start.pipeline, start.input.trigger.deliveryId) : undefined;
      if (existing) {
        started.push({ pipeline: start.pipeline, executionId: existing.id, duplicate: true });
        continue;
      }
      // One delivery may start several pipelines; local ids are unique across pipelines.
      const executionId = decision.starts.length > 1 ? executionName(`${start.executionName}-${start.pipeline}`) : start.executionName;
      const run = runtime
        .run({
          pipeline: entry.pipeline,
          file: entry.file,
          repo: options.repo,
          variables: start.input.variables,
          trigger: start.input.trigger,
          source: start.input.source,
          executionId,
        })
        .then((result) => options.sink.line(`${start.pipeline} ${result.executionId}: ${result.status}${result.cause ? ` (${result.cause})` : ''}`))
        .catch((error: unknown) => options.sink.line(`${start.pipeline}: could not run: ${(error as Error).message}`));
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
      started.push({ pipeline: start.pipeline, executionId });
    }
    for (const s of decision.skipped) options.sink.line(`webhook ${deliveryId ?? ''}: ${s.pipeline} skipped: ${s.reason}`);
    json(res, started.some((s) => !s.duplicate) ? 202 : 200, { started, skipped: decision.skipped });
  }

  function api(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET') {
      json(res, 405, { error: 'GET only' });
      return;
    }
    if (path === '/api/executions') {
      const pipeline = requestUrl(req).searchParams.get('pipeline') ?? undefined;
      json(res, 200, runtime.store.listExecutions(pipeline).map(executionSummary));
      return;
    }
    const match = /^\/api\/executions\/([^/]+)$/.exec(path);
    if (match) {
      const id = decodeSegment(match[1] ?? '');
      if (id === undefined) {
        json(res, 400, { error: 'malformed execution id' });
        return;
      }
      const e = runtime.store.getExecution(id);
      const entry = e ? byName.get(e.pipeline) : undefined;
      if (!e || !entry) json(res, 404, { error: 'no such execution' });
      else json(res, 200, executionDetail(runtime.store, entry.pipeline, e));
      return;
    }
    const state = /^\/api\/pipelines\/([^/]+)\/state$/.exec(path);
    if (state) {
      const entry = byName.get(decodeSegment(state[1] ?? '') ?? '');
      if (!entry) json(res, 404, { error: 'no such pipeline' });
      else json(res, 200, localPipelineState(runtime.store, entry.pipeline));
      return;
    }
    if (path === '/api/pipelines') {
      json(
        res,
        200,
        [...byName.values()].map((p) => ({ name: p.pipeline.name, location: p.file, executionMode: p.pipeline.executionMode })),
      );
      return;
    }
    json(res, 404, { error: `no route for ${path}` });
  }

  const server = createServer((req, res) => {
    let path = '';
    const handle = async () => {
      path = requestUrl(req).pathname;
      const provider = WEBHOOK_PROVIDERS.find((p) => path === `/webhooks/${p.route}`);
      if (provider) {
        if (webhookSecret === undefined) json(res, 404, { error: 'this server takes no webhooks (stepline dashboard); run stepline serve' });
        else if (req.method !== 'POST') json(res, 405, { error: 'POST only' });
        else await webhook(req, res, webhookSecret, provider);
      } else if (path.startsWith('/api/')) api(req, res, path);
      else if (path === '/healthz') json(res, 200, { ok: true });
      else if (await consoleRoutes.handle(req, res)) return;
      else if (!(await handleApprovalRoute(req, res, runtime.approvals))) json(res, 404, { error: `no route for ${path}` });
    };
    handle().catch((error: unknown) => {
      if (res.headersSent) return res.end();
      if (error instanceof HttpError) json(res, error.status, { error: error.message });
      else if (error instanceof WebhookPayloadError) json(res, 400, { error: error.message });
      else {
        options.sink.line(`request ${req.method} ${path} failed: ${(error as Error).message}`);
        json(res, 500, { error: 'internal error' });
      }
      // A refused body may still be arriving: don't keep the connection.
      if (error instanceof HttpError && error.status === 413) req.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  publicUrl ||= url;
  return {
    url,
    runtime,
    consoleToken: auth.loginToken,
    requiresLogin: auth.requireLogin,
    idle: async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    close: async () => {
      consoleRoutes.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await runtime.close();
      await Promise.allSettled([...inFlight]);
      consoleSource.close();
    },
  };
}
