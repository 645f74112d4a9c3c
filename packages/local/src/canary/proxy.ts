/**
 * The local ALB: a weighted HTTP/1.1 reverse proxy on raw sockets. Each request is sent to one
 * backend picked by smooth weighted round robin, so shares are exact over many requests. Changing
 * routes never fails a request: a request keeps the backend it was given, and a backend leaves only
 * after its in-flight requests finish (`drain`).
 *
 * Why raw sockets: Node's HTTP server and an HTTP client cost about four times nginx's CPU per
 * proxied request (request and response objects, streams, events); parsing on the sockets themselves
 * and writing each answer in one write costs about 60% of that (BENCHMARKS.md, bench/proxy). Messages
 * are re-framed, never passed through as received (see `http1.ts`).
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { CHUNK_END, chunkHead, LAST_CHUNK, plainAnswer, splitHead } from './http1';
import { type MessageHandler, type MessageHead, MessageKind, MessageReader } from './http1-reader';
import { SmoothWeightedScheduler } from './scheduler';
import { type UpstreamConnection, type UpstreamListener, UpstreamPool } from './upstream';

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

const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS']);
/** How long a client's connection may stay open with no request in it (Node's server default). */
const CLIENT_IDLE_MS = 5_000;

export class WeightedProxy {
  private current: ProxyRoute[] = [];
  private scheduler = new SmoothWeightedScheduler<Backend>([]);
  private readonly counters = new Map<string, BackendStats>();
  private readonly inFlight = new Map<string, number>();
  private readonly idle = new Map<string, Array<() => void>>();
  private readonly pools: UpstreamPool[] = [];
  private readonly clients = new Set<Socket>();
  /** `\r\nname: ` before the backend's id in each answer's head. */
  readonly versionLine: string;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    versionHeader: string,
  ) {
    this.versionLine = `${versionHeader}: `;
  }

  static async start(options: WeightedProxyOptions): Promise<WeightedProxy> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new WeightedProxy(server, (server.address() as AddressInfo).port, options.versionHeader ?? 'x-stepline-version');
    server.on('connection', (socket) => {
      proxy.clients.add(socket);
      socket.once('close', () => proxy.clients.delete(socket));
      new ClientConnection(proxy, socket);
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
    for (const socket of this.clients) socket.destroy();
    for (const pool of this.pools.splice(0)) pool.close();
    await closed;
  }

  /** Ends the connections to every port the backend had. */
  private dropPool(id: string): void {
    for (let i = this.pools.length - 1; i >= 0; i--) {
      const pool = this.pools[i] as UpstreamPool;
      if (pool.id !== id) continue;
      pool.close();
      this.pools.splice(i, 1);
    }
  }

  /** @internal the backend for the next request (undefined: no route), counted in flight */
  pick(): Backend | undefined {
    const backend = this.scheduler.pick();
    if (backend) this.inFlight.set(backend.id, (this.inFlight.get(backend.id) ?? 0) + 1);
    return backend;
  }

  /** @internal kept-alive connections to one backend, shared by all requests to it (a backend may move to another port) */
  poolFor(backend: Backend): UpstreamPool {
    for (const pool of this.pools) if (pool.id === backend.id && pool.port === backend.port) return pool;
    const pool = new UpstreamPool(backend.id, backend.port);
    this.pools.push(pool);
    return pool;
  }

  /** @internal an exchange's answer from the backend (or a 502 when there was none) */
  answered(backend: Backend, status: number): void {
    let stats = this.counters.get(backend.id);
    if (!stats) {
      stats = { requests: 0, serverErrors: 0 };
      this.counters.set(backend.id, stats);
    }
    stats.requests++;
    if (status >= 500) stats.serverErrors++;
  }

  /** @internal an exchange is over, whichever way */
  ended(backend: Backend): void {
    const left = (this.inFlight.get(backend.id) ?? 1) - 1;
    this.inFlight.set(backend.id, left);
    if (left === 0) for (const wake of this.idle.get(backend.id)?.splice(0) ?? []) wake();
  }
}

/**
 * One client's connection: its requests are parsed as they come and answered in order (a client may
 * send the next request before the answer to the last one: HTTP/1.1 pipelining).
 */
class ClientConnection implements MessageHandler {
  private readonly reader = new MessageReader(MessageKind.Request, this);
  /** Requests in order; the first is the one being answered, the last the one being read. */
  private readonly queue: Exchange[] = [];
  /** The request whose body is being read (it may have been answered already). */
  private reading: Exchange | undefined;
  private ended = false;

  constructor(
    readonly proxy: WeightedProxy,
    readonly socket: Socket,
  ) {
    socket.setTimeout(CLIENT_IDLE_MS);
    socket.on('timeout', () => {
      if (this.queue.length === 0) socket.destroy();
    });
    socket.on('data', (data: Buffer) => {
      const error = this.reader.execute(data);
      if (error) this.refuse(`stepline: the request could not be read: ${error.message}\n`);
    });
    socket.on('end', () => {
      this.ended = true;
      if (this.queue.length === 0) socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      for (const exchange of this.queue.splice(0)) exchange.clientGone();
    });
  }

  /** @internal the reader's: a request's head */
  onHead(head: MessageHead): boolean {
    const split = splitHead(head);
    if (head.upgrade || (split.transferEncoding !== undefined && split.transferEncoding !== 'chunked')) {
      this.refuse(
        head.upgrade
          ? 'stepline: this proxy does not forward protocol upgrades (WebSocket) or CONNECT\n'
          : `stepline: transfer-encoding "${split.transferEncoding}" is not supported (only chunked)\n`,
      );
      return true;
    }
    if (split.expectContinue && head.versionMinor >= 1) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const exchange = new Exchange(this, head.method, head.url, split, head.shouldKeepAlive, head.versionMinor === 0);
    this.reading = exchange;
    this.queue.push(exchange);
    if (this.queue.length === 1) exchange.start();
    return false;
  }

  /** @internal the reader's */
  onBody(chunk: Buffer): void {
    this.reading?.requestBody(chunk);
  }

  /** @internal the reader's: the request has been read whole */
  onComplete(): void {
    this.reading?.requestComplete();
    this.reading = undefined;
  }

  /** A request that cannot be read: answered 400 and the connection closed (its framing is unknown). */
  private refuse(message: string): void {
    this.reader.stop();
    if (this.socket.destroyed) return;
    this.socket.pause();
    if (this.queue.length > 0) this.socket.destroy();
    else this.socket.end(plainAnswer(400, 'Bad Request', message, '', false), 'latin1');
  }

  /** @internal the first exchange is answered */
  done(exchange: Exchange, keepAlive: boolean): void {
    if (this.queue[0] !== exchange) return;
    this.queue.shift();
    // Paused while the exchange's backend was slow to take its body: the next request is read now.
    if (this.socket.isPaused()) this.socket.resume();
    if (!keepAlive) {
      this.socket.end();
      return;
    }
    const next = this.queue[0];
    if (next) next.start();
    else if (this.ended) this.socket.end();
  }
}

/** One request through the proxy: the request to the backend it was given, the answer back to the client. */
class Exchange implements UpstreamListener {
  private backend: Backend | undefined;
  private upstream: UpstreamConnection | undefined;
  /** Request body read before the exchange started (a pipelined request's). */
  private pending: Buffer[] | undefined;
  private requestEnded = false;
  private retries: number;
  /** The answer's head, held until its first body bytes so both leave in one write. */
  private heldHead: string | undefined;
  private headSent = false;
  private chunked = false;
  private keepAlive: boolean;
  private status = 0;
  private finished = false;
  private corked = false;

  constructor(
    private readonly client: ClientConnection,
    private readonly method: string,
    private readonly url: string,
    private readonly head: ReturnType<typeof splitHead>,
    keepAlive: boolean,
    private readonly http10: boolean,
  ) {
    this.keepAlive = keepAlive;
    // Safe methods without a body can be sent again if a kept-alive connection was closed under them.
    this.retries = SAFE_TO_RETRY.has(method) && !this.hasBody ? 1 : 0;
  }

  private get hasBody(): boolean {
    return this.head.transferEncoding === 'chunked' || (this.head.contentLength ?? 0) > 0;
  }

  start(): void {
    const { proxy, socket } = this.client;
    const backend = proxy.pick();
    if (!backend) {
      this.finished = true;
      const body = 'stepline: no version is live behind this proxy\n';
      socket.write(plainAnswer(503, 'Service Unavailable', body, '', this.keepAlive), 'latin1');
      this.client.done(this, this.keepAlive);
      return;
    }
    this.backend = backend;
    this.send(false);
  }

  private send(fresh: boolean): void {
    const backend = this.backend as Backend;
    const upstream = this.client.proxy.poolFor(backend).acquire(fresh);
    this.upstream = upstream;
    upstream.attach(this);
    const { head } = this;
    const framing =
      head.transferEncoding === 'chunked'
        ? 'transfer-encoding: chunked\r\n'
        : head.contentLength !== undefined
          ? `content-length: ${head.contentLength}\r\n`
          : '';
    // HTTP/1.1 needs a host; an HTTP/1.0 client may not have sent one.
    const host = head.hasHost ? '' : `host: 127.0.0.1:${backend.port}\r\n`;
    upstream.socket.write(`${this.method} ${this.url} HTTP/1.1\r\n${head.lines}${host}${framing}\r\n`, 'latin1');
    if (this.pending) for (const chunk of this.pending) this.writeBody(chunk);
    this.pending = undefined;
    if (this.requestEnded && head.transferEncoding === 'chunked') upstream.socket.write(LAST_CHUNK);
  }

  private writeBody(chunk: Buffer): void {
    const out = (this.upstream as UpstreamConnection).socket;
    const chunked = this.head.transferEncoding === 'chunked';
    if (chunked) out.write(chunkHead(chunk.length));
    const ok = out.write(chunk);
    if (chunked) out.write(CHUNK_END);
    if (!ok) {
      const { socket } = this.client;
      socket.pause();
      out.once('drain', () => {
        if (!this.finished) socket.resume();
      });
    }
  }

  requestBody(chunk: Buffer): void {
    if (this.finished) return;
    if (this.upstream) this.writeBody(chunk);
    else if (this.pending) this.pending.push(chunk);
    else this.pending = [chunk];
    // Only a request without a body can go twice.
    this.retries = 0;
  }

  requestComplete(): void {
    this.requestEnded = true;
    if (this.upstream && this.head.transferEncoding === 'chunked') this.upstream.socket.write(LAST_CHUNK);
  }

  /** The client's connection closed: the backend's work is cut short, and nothing is counted. */
  clientGone(): void {
    if (this.finished) return;
    this.finished = true;
    this.upstream?.abort();
    if (this.backend) this.client.proxy.ended(this.backend);
  }

  cork(): void {
    this.corked = true;
    this.client.socket.cork();
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.client.socket.uncork();
  }

  onHead(head: MessageHead): boolean {
    const backend = this.backend as Backend;
    this.status = head.statusCode;
    this.client.proxy.answered(backend, head.statusCode);
    const split = splitHead(head);
    const bodiless = this.method === 'HEAD' || head.statusCode === 204 || head.statusCode === 304;
    let framing = '';
    if (bodiless) {
      if (split.contentLength !== undefined) framing = `content-length: ${split.contentLength}\r\n`;
    } else if (split.transferEncoding === undefined && split.contentLength !== undefined) {
      framing = `content-length: ${split.contentLength}\r\n`;
    } else if (!this.http10) {
      // Chunked, or framed by the backend closing: chunked to the client keeps its connection.
      this.chunked = true;
      framing = 'transfer-encoding: chunked\r\n';
    } else {
      this.keepAlive = false;
    }
    const connection = !this.keepAlive ? 'connection: close\r\n' : this.http10 ? 'connection: keep-alive\r\n' : '';
    const { proxy } = this.client;
    this.heldHead = `HTTP/1.1 ${head.statusCode} ${head.statusMessage}\r\n${split.lines}${proxy.versionLine}${backend.id}\r\n${framing}${connection}\r\n`;
    return this.method === 'HEAD';
  }

  private flushHead(): void {
    if (this.heldHead === undefined) return;
    this.client.socket.write(this.heldHead, 'latin1');
    this.heldHead = undefined;
    this.headSent = true;
  }

  onBody(chunk: Buffer): void {
    if (this.finished) return;
    this.flushHead();
    const { socket } = this.client;
    if (this.chunked) socket.write(chunkHead(chunk.length));
    const ok = socket.write(chunk);
    if (this.chunked) socket.write(CHUNK_END);
    if (!ok) {
      const upstream = (this.upstream as UpstreamConnection).socket;
      upstream.pause();
      // Once the exchange is over its connection is parked, which resumes it: not ours to touch then.
      socket.once('drain', () => {
        if (!this.finished) upstream.resume();
      });
    }
  }

  onComplete(): boolean {
    if (this.finished) return false;
    this.flushHead();
    if (this.chunked) this.client.socket.write(LAST_CHUNK);
    this.finished = true;
    const backend = this.backend as Backend;
    this.client.proxy.ended(backend);
    // Answered before the whole request was read (a 413, say): the rest of it cannot be told from the
    // next request, so the client's connection closes after this answer, as Node's server does.
    this.client.done(this, this.keepAlive && this.requestEnded);
    return this.requestEnded;
  }

  onFailure(error: Error, answered: boolean): void {
    if (this.finished) return;
    const upstream = this.upstream as UpstreamConnection;
    // A kept-alive connection the backend closed meanwhile: a safe request goes again on a fresh one.
    if (!answered && this.retries > 0 && upstream.reused) {
      this.retries--;
      this.send(true);
      return;
    }
    this.finished = true;
    const backend = this.backend as Backend;
    const { socket, proxy } = this.client;
    if (this.headSent || this.status !== 0) {
      // Part of the answer is out (or its head was read): the client cannot be told otherwise.
      proxy.ended(backend);
      socket.destroy();
      return;
    }
    proxy.answered(backend, 502);
    proxy.ended(backend);
    const body = `stepline: ${backend.id} did not answer: ${error.message}\n`;
    socket.write(plainAnswer(502, 'Bad Gateway', body, `${proxy.versionLine}${backend.id}\r\n`, this.keepAlive && this.requestEnded), 'latin1');
    this.client.done(this, this.keepAlive && this.requestEnded);
  }
}
