/**
 * Kept-alive connections from the proxy to one backend, each with its own response parser. A
 * connection carries one exchange at a time; between exchanges it waits in the idle list, and leaves it
 * when the backend closes it or after {@link IDLE_MS} unused (before a backend's own keep-alive timeout,
 * commonly 2 to 5 s, would close it under a request).
 */
import { connect, type Socket } from 'node:net';
import { type MessageHead, MessageKind, MessageReader } from './http1-reader';

const IDLE_MS = 1_000;
/** Idle connections kept per backend; more are closed once their exchange ends. */
const MAX_IDLE = 256;

/** What an upstream connection reports to the exchange it carries. */
export interface UpstreamListener {
  /** The answer's head; returns true when the answer has no body (a HEAD request's). */
  onHead(head: MessageHead): boolean;
  onBody(chunk: Buffer): void;
  /** The answer is complete; returns whether the whole request was sent (else the connection is not reused). */
  onComplete(): boolean;
  /** The connection failed or closed before the answer was complete; `answered`: some of it came. */
  onFailure(error: Error, answered: boolean): void;
  /** Called around each read from the backend, so a whole read leaves in one write to the client. */
  cork(): void;
  uncork(): void;
}

export class UpstreamConnection {
  readonly socket: Socket;
  private readonly reader: MessageReader;
  private listener: UpstreamListener | undefined;
  private received = false;
  private keepAlive = false;
  private informational = false;
  /** Whether it carried an exchange before this one (a fresh connection is never retried). */
  reused = false;

  constructor(
    readonly pool: UpstreamPool,
    port: number,
  ) {
    this.reader = new MessageReader(MessageKind.Response, this);
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.on('data', (data: Buffer) => this.read(data));
    this.socket.on('end', () => {
      // An answer framed by the connection's end is complete now.
      if (this.listener && this.received) {
        const error = this.reader.finish();
        if (error) this.fail(error);
      }
      this.socket.end();
    });
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('the backend closed the connection')));
    // Armed once: every read and write re-arms it, so it fires only after IDLE_MS without either; an
    // exchange whose backend is that slow to answer is left alone (setting the timeout per exchange cost
    // two timer-list updates a request).
    this.socket.setTimeout(IDLE_MS);
    this.socket.on('timeout', () => {
      if (!this.listener) this.socket.destroy();
    });
  }

  /** Starts an exchange on this connection; the caller then writes the request to {@link socket}. */
  attach(listener: UpstreamListener): void {
    this.listener = listener;
    this.received = false;
    this.keepAlive = false;
  }

  /** Ends the exchange early (the client left): the connection cannot be reused. */
  abort(): void {
    this.listener = undefined;
    this.socket.destroy();
  }

  private read(data: Buffer): void {
    const listener = this.listener;
    if (!listener) {
      // Bytes nobody asked for: the connection is out of step with the backend.
      this.socket.destroy();
      return;
    }
    this.received = true;
    listener.cork();
    const error = this.reader.execute(data);
    listener.uncork();
    if (error) this.fail(error);
  }

  /** @internal the reader's: an answer's head */
  onHead(head: MessageHead): boolean {
    // 1xx answers (the backend's own `100 Continue`) are not passed on: the proxy sent its own.
    this.informational = head.statusCode < 200;
    if (this.informational) return false;
    this.keepAlive = head.shouldKeepAlive;
    const listener = this.listener;
    if (!listener) {
      // A second answer in one read, to no request: out of step with the backend.
      this.reader.stop();
      this.socket.destroy();
      return true;
    }
    return listener.onHead(head);
  }

  /** @internal the reader's */
  onBody(chunk: Buffer): void {
    this.listener?.onBody(chunk);
  }

  /** @internal the reader's: the answer is complete */
  onComplete(): void {
    this.complete();
  }

  private complete(): void {
    const listener = this.listener;
    if (!listener) return;
    // A 1xx answer completes too; the real answer follows on the same connection.
    if (this.informational) {
      this.informational = false;
      return;
    }
    this.listener = undefined;
    const sent = listener.onComplete();
    const reusable = sent && this.keepAlive && !this.socket.destroyed;
    if (reusable) this.pool.release(this);
    else this.socket.destroy();
  }

  private fail(error: Error): void {
    this.pool.forget(this);
    const listener = this.listener;
    this.listener = undefined;
    this.socket.destroy();
    listener?.onFailure(error, this.received);
  }

  /** @internal the pool parks it */
  park(): void {
    this.reused = true;
    // Paused for a slow client of the exchange just ended: the next exchange reads from the start.
    if (this.socket.isPaused()) this.socket.resume();
  }
}

/** Connections to one backend (one port of one version). */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private closed = false;

  constructor(
    readonly id: string,
    readonly port: number,
  ) {}

  /** A kept-alive connection when one is idle, else a new one (`fresh` asks for a new one). */
  acquire(fresh = false): UpstreamConnection {
    if (!fresh) {
      const conn = this.idle.pop();
      if (conn) return conn;
    }
    return new UpstreamConnection(this, this.port);
  }

  /** @internal */
  release(conn: UpstreamConnection): void {
    if (this.closed || this.idle.length >= MAX_IDLE) {
      conn.socket.destroy();
      return;
    }
    conn.park();
    this.idle.push(conn);
  }

  /** @internal */
  forget(conn: UpstreamConnection): void {
    const index = this.idle.indexOf(conn);
    if (index >= 0) this.idle.splice(index, 1);
  }

  /** Closes the idle connections, and those in use as their exchanges end. */
  close(): void {
    this.closed = true;
    for (const conn of this.idle.splice(0)) conn.socket.destroy();
  }
}
