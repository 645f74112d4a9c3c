/**
 * The local ALB: a weighted HTTP reverse proxy in plain Node `http`. Each request is sent to one
 * backend picked by smooth weighted round robin, so shares are exact over many requests. Changing
 * routes never fails a request: a request keeps the backend it was given, and a backend leaves only
 * after its in-flight requests finish (`drain`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Dispatcher, Pool } from 'undici';
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

// Hop-by-hop headers belong to one connection and are not forwarded (RFC 9110 §7.6.1); nor is
// `expect`: this server answers `100-continue` itself, before the body is read.
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
  'expect',
]);
const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Raw headers (`[name, value, name, value, …]`) without the hop-by-hop ones, nor those the `connection`
 * header names. Raw lists keep repeated headers (`set-cookie`) as they came, and cost no object per request.
 */
function forwardable(raw: ReadonlyArray<string | Buffer>): string[] {
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      named = String(raw[i + 1])
        .split(',')
        .map((t) => t.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = typeof raw[i] === 'string' ? (raw[i] as string) : (raw[i] as Buffer).toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.includes(lower)) continue;
    const value = raw[i + 1] ?? '';
    out.push(name, typeof value === 'string' ? value : value.toString('latin1'));
  }
  return out;
}

export class WeightedProxy {
  private current: ProxyRoute[] = [];
  private scheduler = new SmoothWeightedScheduler<Backend>([]);
  private readonly counters = new Map<string, BackendStats>();
  private readonly inFlight = new Map<string, number>();
  private readonly idle = new Map<string, Array<() => void>>();
  private readonly pools = new Map<Readonly<Backend>, Pool>();
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
    if ((this.inFlight.get(id) ?? 0) === 0) return this.dropPool(id);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const waiters = this.idle.get(id) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.idle.set(id, waiters);
    });
    this.dropPool(id);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    for (const { id } of [...this.pools.keys()]) this.dropPool(id);
    await closed;
  }

  /** Ends the connections to every port the backend had. */
  private dropPool(id: string): void {
    for (const [key, pool] of this.pools) {
      if (key.id !== id) continue;
      void pool.destroy();
      this.pools.delete(key);
    }
  }

  /** Kept-alive connections to one backend, shared by all requests to it (a backend may move to another port). */
  private poolFor(backend: Backend): Pool {
    for (const [key, pool] of this.pools) if (key.id === backend.id && key.port === backend.port) return pool;
    // undici keeps a connection only when the backend's own keep-alive timeout (`Keep-Alive: timeout=2`)
    // is more than this margin: with the default margin (2 s), every connection to a backend that keeps
    // them 2 s or less would be closed after one request.
    const pool = new Pool(`http://127.0.0.1:${backend.port}`, { connections: 256, pipelining: 1, keepAliveTimeoutThreshold: 500 });
    this.pools.set({ id: backend.id, port: backend.port }, pool);
    return pool;
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
    const exchange = new Exchange(this, req, res, backend, SAFE_TO_RETRY.has(req.method ?? '') ? 1 : 0);
    res.once('close', () => exchange.closed());
    exchange.send();
  }

  /** @internal an exchange's answer from the backend (or a 502 when there was none) */
  answered(backend: Backend, status: number): void {
    this.count(backend.id, status);
  }

  /** @internal an exchange is over, whichever way */
  ended(backend: Backend): void {
    const left = (this.inFlight.get(backend.id) ?? 1) - 1;
    this.inFlight.set(backend.id, left);
    if (left === 0) for (const wake of this.idle.get(backend.id)?.splice(0) ?? []) wake();
  }

  /** @internal */
  dispatch(backend: Backend, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): void {
    this.poolFor(backend).dispatch(options, handler);
  }

  /** @internal */
  get header(): string {
    return this.versionHeader;
  }
}

/**
 * One request through the proxy, as undici's dispatch handler: the answer's head and body go to the
 * client as they come, with the backend's flow control. One object per request, no stream in between.
 */
class Exchange implements Dispatcher.DispatchHandlers {
  private abort: ((error?: Error) => void) | undefined;
  private done = false;
  private headersSent = false;
  private held: Buffer | undefined;

  constructor(
    private readonly proxy: WeightedProxy,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly backend: Backend,
    private retries: number,
  ) {}

  send(): void {
    const { req } = this;
    const safe = SAFE_TO_RETRY.has(req.method ?? '');
    // Safe methods carry no body worth sending, which also lets them be sent twice.
    if (safe && !req.readableEnded) req.resume();
    this.proxy.dispatch(
      this.backend,
      {
        origin: `http://127.0.0.1:${this.backend.port}`,
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: forwardable(req.rawHeaders),
        ...(safe ? {} : { body: req }),
      },
      this,
    );
  }

  /** The client's connection closed: over if answered, else the backend's work is cut short. */
  closed(): void {
    if (!this.res.writableFinished) {
      this.done = true;
      this.abort?.();
    }
    this.proxy.ended(this.backend);
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
    if (this.done) abort();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.done) return false;
    this.proxy.answered(this.backend, status);
    const headers = forwardable(raw);
    headers.push(this.proxy.header, this.backend.id);
    this.headersSent = true;
    this.res.writeHead(status, statusText, headers);
    this.res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // Each chunk is held until the next arrives, so the last one goes out with the end of the answer:
    // a small answer leaves in one write, not a body and then an empty end the client waits for.
    const held = this.held;
    this.held = chunk;
    return held === undefined || this.res.write(held);
  }

  onComplete(): void {
    const held = this.held;
    this.held = undefined;
    if (held === undefined) this.res.end();
    else this.res.end(held);
  }

  onError(error: Error): void {
    // The client left first (and this request was cut because of it): nobody to answer, nothing to count.
    if (this.done) return;
    const { res } = this;
    // A kept-alive connection the backend closed meanwhile: a safe request goes again on a fresh one.
    if (this.retries > 0 && !this.headersSent && (error as { code?: string }).code === 'UND_ERR_SOCKET') {
      this.retries--;
      this.abort = undefined;
      this.send();
      return;
    }
    if (this.headersSent) {
      res.destroy();
      return;
    }
    this.proxy.answered(this.backend, 502);
    res
      .writeHead(502, { 'content-type': 'text/plain', [this.proxy.header]: this.backend.id })
      .end(`stepline: ${this.backend.id} did not answer: ${error.message}\n`);
  }
}
