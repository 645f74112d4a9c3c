/**
 * The local ALB: a weighted HTTP reverse proxy in plain Node `http`. Each request is sent to one
 * backend picked by smooth weighted round robin, so shares are exact over many requests. Changing
 * routes never fails a request: a request keeps the backend it was given, and a backend leaves only
 * after its in-flight requests finish (`drain`).
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SmoothWeightedScheduler } from './scheduler';

export interface Backend {
  /** Stable id (the version's), which stats and the `x-stepline-version` header use. */
  id: string;
  port: number;
}

export interface ProxyRoute {
  backend: Backend;
  weight: number;
}

/** Counts per backend since it first took a request. */
export interface BackendStats {
  /** Requests answered (by the backend, or with 502 when it could not be reached). */
  requests: number;
  /** Answers with a 5xx status, 502s for unreachable backends included. */
  serverErrors: number;
}

export interface WeightedProxyOptions {
  port: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** Response header naming the backend that answered. @default x-stepline-version */
  versionHeader?: string;
}

// Hop-by-hop headers belong to one connection and are not forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const connectionTokens = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase());
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !connectionTokens.includes(name)) out[name] = value;
  }
  return out;
}

export class WeightedProxy {
  private current: ProxyRoute[] = [];
  private scheduler = new SmoothWeightedScheduler<Backend>([]);
  private readonly counters = new Map<string, BackendStats>();
  private readonly inFlight = new Map<string, number>();
  private readonly idle = new Map<string, Array<() => void>>();
  private readonly agents = new Map<string, Agent>();
  private readonly sockets = new Set<Socket>();
  private readonly versionHeader: string;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    versionHeader: string,
  ) {
    this.versionHeader = versionHeader;
  }

  static async start(options: WeightedProxyOptions): Promise<WeightedProxy> {
    const server = createServer();
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new WeightedProxy(server, (server.address() as AddressInfo).port, options.versionHeader ?? 'x-stepline-version');
    server.on('request', (req, res) => proxy.handle(req, res));
    server.on('connection', (socket) => {
      proxy.sockets.add(socket);
      socket.once('close', () => proxy.sockets.delete(socket));
    });
    return proxy;
  }

  /** Replaces the routing table at once; requests already sent keep their backend. */
  setRoutes(routes: readonly ProxyRoute[]): void {
    this.current = routes.map((r) => ({ backend: { ...r.backend }, weight: r.weight }));
    this.scheduler = new SmoothWeightedScheduler(this.current.map((r) => ({ value: r.backend, weight: r.weight })));
  }

  routes(): readonly ProxyRoute[] {
    return this.current;
  }

  stats(id: string): BackendStats {
    return { ...(this.counters.get(id) ?? { requests: 0, serverErrors: 0 }) };
  }

  /** Resolves once the backend has no request in flight (it must already be out of the routes). */
  async drain(id: string, timeoutMs = 30_000): Promise<void> {
    if ((this.inFlight.get(id) ?? 0) === 0) return this.dropAgent(id);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const waiters = this.idle.get(id) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.idle.set(id, waiters);
    });
    this.dropAgent(id);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    for (const id of [...this.agents.keys()]) this.dropAgent(id);
    await closed;
  }

  private dropAgent(id: string): void {
    this.agents.get(id)?.destroy();
    this.agents.delete(id);
  }

  private agentFor(id: string): Agent {
    let agent = this.agents.get(id);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
      this.agents.set(id, agent);
    }
    return agent;
  }

  private count(id: string, status: number): void {
    const stats = this.counters.get(id) ?? { requests: 0, serverErrors: 0 };
    stats.requests++;
    if (status >= 500) stats.serverErrors++;
    this.counters.set(id, stats);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const backend = this.scheduler.pick();
    if (!backend) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('stepline: no version is live behind this proxy\n');
      return;
    }
    this.inFlight.set(backend.id, (this.inFlight.get(backend.id) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(backend.id) ?? 1) - 1;
      this.inFlight.set(backend.id, left);
      if (left === 0) for (const wake of this.idle.get(backend.id)?.splice(0) ?? []) wake();
    };
    res.once('close', finish);
    this.forward(req, res, backend, SAFE_TO_RETRY.has(req.method ?? '') ? 1 : 0);
  }

  private forward(req: IncomingMessage, res: ServerResponse, backend: Backend, retries: number): void {
    let clientGone = false;
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: backend.port,
      method: req.method,
      path: req.url,
      headers: forwardable(req.headers),
      agent: this.agentFor(backend.id),
    });
    upstream.on('response', (answer) => {
      const status = answer.statusCode ?? 502;
      this.count(backend.id, status);
      res.writeHead(status, answer.statusMessage, { ...forwardable(answer.headers), [this.versionHeader]: backend.id });
      answer.pipe(res);
      answer.once('error', () => res.destroy());
    });
    upstream.on('error', (error) => {
      // The client left first (and this request was cut because of it): nobody to answer, nothing to count.
      if (clientGone) return;
      // A kept-alive socket the backend closed meanwhile: a safe request goes again on a fresh one.
      if (retries > 0 && upstream.reusedSocket && !res.headersSent) {
        this.forward(req, res, backend, retries - 1);
        return;
      }
      this.count(backend.id, 502);
      if (res.headersSent) res.destroy();
      else
        res
          .writeHead(502, { 'content-type': 'text/plain', [this.versionHeader]: backend.id })
          .end(`stepline: ${backend.id} did not answer: ${error.message}\n`);
    });
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });
    // Safe methods carry no body worth sending, which also lets them be sent twice.
    if (SAFE_TO_RETRY.has(req.method ?? '')) {
      if (!req.readableEnded) req.resume();
      upstream.end();
    } else req.pipe(upstream);
  }
}
