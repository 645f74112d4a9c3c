/**
 * A minimal HTTP/1.1 message reader for the weighted proxy: it finds each message's head, reads the
 * few headers that frame the message (RFC 9112 §6), and hands the body over in the pieces it arrived
 * in (de-chunked). Nothing else of a header is interpreted, so a request costs one `indexOf` for the
 * head's end, one latin1 string and a split of its lines: a general parser (`http-parser-js`) cost
 * about a third of the proxy's CPU per request (BENCHMARKS.md, bench/proxy).
 *
 * It is strict where a lenient reading lets a client and a backend disagree on where a message ends
 * (request smuggling): a bare LF as line end, a header folded onto the next line, white space before a
 * header's colon, a `content-length` that is not digits or differs from a second one, and both
 * `content-length` and `transfer-encoding` in one message are each refused.
 */

/** A message's head as read; `headers` are `[name, value, name, value, …]` as received. */
export interface MessageHead {
  /** Requests: the method and the request target. */
  method: string;
  url: string;
  /** Responses: the status code and reason phrase. */
  statusCode: number;
  statusMessage: string;
  /** The `x` of `HTTP/1.x`. */
  versionMinor: number;
  headers: string[];
  /** `content-length` (undefined when absent). */
  contentLength: number | undefined;
  /** `transfer-encoding` in lower case (undefined when absent). */
  transferEncoding: string | undefined;
  /** The tokens of `connection`, lower case (empty when absent). */
  connection: string[];
  /** A request for a protocol upgrade (`connection: upgrade` with `upgrade`) or a CONNECT. */
  upgrade: boolean;
  /** Whether the connection may carry another message after this one. */
  shouldKeepAlive: boolean;
}

/** What the reader reports, in order, for each message. */
export interface MessageHandler {
  /** Returns true when this message has no body whatever its head says (the answer to a HEAD request). */
  onHead(head: MessageHead): boolean;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

export const MessageKind = { Request: 'request', Response: 'response' } as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** Node's server allows 16 KiB of head; nginx 8 KiB per line. Anything bigger is refused. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line (with its extensions) or the trailer section, at most. */
const MAX_CHUNK_LINE = 4096;

const State = {
  Head: 0,
  Sized: 1,
  ChunkSize: 2,
  ChunkData: 3,
  ChunkDataEnd: 4,
  Trailers: 5,
  UntilClose: 6,
  Stopped: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible characters and obs-text, no control characters, no spaces (RFC 9112 §3.2).
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;
const DIGITS = /^[0-9]{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;
// Field values: visible characters, spaces, tabs and obs-text; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export class MessageReader {
  private state: State = State.Head;
  /** Head bytes read so far (when a head spans reads). */
  private partial: Buffer | undefined;
  /** Body bytes left in a sized body or in a chunk; the bytes of a chunk line or trailers read so far. */
  private remaining = 0;
  private line = '';

  constructor(
    private readonly kind: MessageKind,
    private readonly handler: MessageHandler,
  ) {}

  /** Reads what arrived; returns the reason when the input is not HTTP/1.1 (the reader then stops). */
  execute(data: Buffer): Error | undefined {
    let at = 0;
    while (at < data.length && this.state !== State.Stopped) {
      const next = this.state === State.Head ? this.readHead(data, at) : this.readBody(data, at);
      if (typeof next !== 'number') {
        this.state = State.Stopped;
        return next;
      }
      at = next;
    }
    return undefined;
  }

  /** The connection ended: a body framed by the end is complete; anything else half-read is an error. */
  finish(): Error | undefined {
    if (this.state === State.UntilClose) {
      this.state = State.Head;
      this.handler.onComplete();
      return undefined;
    }
    if (this.state === State.Head && this.partial === undefined) return undefined;
    if (this.state === State.Stopped) return undefined;
    this.state = State.Stopped;
    return new Error('the connection ended in the middle of a message');
  }

  /** Ignores whatever arrives from now on (the connection is being closed). */
  stop(): void {
    this.state = State.Stopped;
    this.partial = undefined;
  }

  /** Whether the reader is between messages (nothing of a next one read yet). */
  get idle(): boolean {
    return this.state === State.Head && this.partial === undefined;
  }

  private readHead(data: Buffer, at: number): number | Error {
    const held = this.partial?.length ?? 0;
    const buffer = this.partial ? Buffer.concat([this.partial, data.subarray(at)]) : data;
    let from = this.partial ? 0 : at;
    // An empty line before a request line is ignored (RFC 9112 §2.2).
    while (from + 1 < buffer.length && buffer[from] === CR && buffer[from + 1] === LF) from += 2;
    const searchFrom = Math.max(from, held - 3);
    const end = buffer.indexOf(HEAD_END, searchFrom);
    if (end < 0) {
      // A head whose lines end in a bare LF would otherwise wait for a CRLF that never comes.
      if (buffer.indexOf('\n\n', searchFrom, 'latin1') >= 0) return new Error("the head's lines end in a bare LF, not CRLF");
      if (buffer.length - from > MAX_HEAD_BYTES) return new Error(`the message head is larger than ${MAX_HEAD_BYTES / 1024} KiB`);
      this.partial = from < buffer.length ? Buffer.from(buffer.subarray(from)) : undefined;
      return data.length;
    }
    if (end - from > MAX_HEAD_BYTES) return new Error(`the message head is larger than ${MAX_HEAD_BYTES / 1024} KiB`);
    // Where the head ended in `data` (the part of it held in `partial` came before `at`).
    const consumed = this.partial ? at + (end + 4 - held) : end + 4;
    this.partial = undefined;
    const head = this.parseHead(buffer.toString('latin1', from, end));
    if (head instanceof Error) return head;
    const bodiless = this.handler.onHead(head);
    if (this.state === State.Stopped) return consumed;
    return this.startBody(head, bodiless, consumed);
  }

  private parseHead(text: string): MessageHead | Error {
    const lines = text.split('\r\n');
    const first = lines[0] as string;
    const head: MessageHead = {
      method: '',
      url: '',
      statusCode: 0,
      statusMessage: '',
      versionMinor: 1,
      headers: [],
      contentLength: undefined,
      transferEncoding: undefined,
      connection: [],
      upgrade: false,
      shouldKeepAlive: false,
    };
    const startError = this.kind === MessageKind.Request ? requestLine(first, head) : statusLine(first, head);
    if (startError) return new Error(startError);
    let upgradeHeader = false;
    const { headers } = head;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      const c0 = line.charCodeAt(0);
      if (c0 === 32 || c0 === 9) return new Error(`header line ${i} is folded onto the one before (obsolete line folding)`);
      if (colon <= 0) return new Error(`header line ${i} has no name`);
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) return new Error(`header name "${name}" is not a token`);
      const value = line.slice(colon + 1).trim();
      if (!FIELD_VALUE.test(value)) return new Error(`header "${name}" holds a control character`);
      headers.push(name, value);
      switch (name.length) {
        case 7:
          if (name.toLowerCase() === 'upgrade') upgradeHeader = true;
          break;
        case 10:
          if (name.toLowerCase() === 'connection') {
            for (const token of value.toLowerCase().split(',')) {
              const t = token.trim();
              if (t) head.connection.push(t);
            }
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (!DIGITS.test(value)) return new Error(`content-length "${value}" is not a number of bytes`);
            const length = Number(value);
            if (head.contentLength !== undefined && head.contentLength !== length) return new Error('two different content-length headers');
            head.contentLength = length;
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            const coding = value.toLowerCase();
            head.transferEncoding = head.transferEncoding === undefined ? coding : `${head.transferEncoding}, ${coding}`;
          }
          break;
      }
    }
    if (head.transferEncoding !== undefined && head.contentLength !== undefined) return new Error('both content-length and transfer-encoding');
    const close = head.connection.includes('close');
    head.shouldKeepAlive = head.versionMinor >= 1 ? !close : !close && head.connection.includes('keep-alive');
    head.upgrade = head.method === 'CONNECT' || (upgradeHeader && head.connection.includes('upgrade'));
    return head;
  }

  private startBody(head: MessageHead, bodiless: boolean, at: number): number {
    const status = head.statusCode;
    const noBody = bodiless || (this.kind === MessageKind.Response && ((status >= 100 && status < 200) || status === 204 || status === 304));
    if (noBody) return this.complete(at);
    if (head.transferEncoding !== undefined) {
      if (isChunked(head.transferEncoding)) {
        this.state = State.ChunkSize;
        this.line = '';
        return at;
      }
      // Another coding last: only a response can be framed by the connection's end.
      head.shouldKeepAlive = false;
      this.state = State.UntilClose;
      return at;
    }
    if (head.contentLength !== undefined) {
      if (head.contentLength === 0) return this.complete(at);
      this.remaining = head.contentLength;
      this.state = State.Sized;
      return at;
    }
    if (this.kind === MessageKind.Request) return this.complete(at);
    head.shouldKeepAlive = false;
    this.state = State.UntilClose;
    return at;
  }

  private complete(at: number): number {
    this.state = State.Head;
    this.handler.onComplete();
    return at;
  }

  private readBody(data: Buffer, at: number): number | Error {
    switch (this.state) {
      case State.Sized:
      case State.ChunkData: {
        const take = Math.min(this.remaining, data.length - at);
        this.remaining -= take;
        const end = at + take;
        const sized = this.state === State.Sized;
        if (this.remaining === 0) this.state = sized ? State.Head : State.ChunkDataEnd;
        this.line = '';
        this.handler.onBody(at === 0 && end === data.length ? data : data.subarray(at, end));
        if (sized && this.remaining === 0 && (this.state as State) !== State.Stopped) this.handler.onComplete();
        return end;
      }
      case State.UntilClose:
        this.handler.onBody(at === 0 ? data : data.subarray(at));
        return data.length;
      case State.ChunkDataEnd: {
        // The CRLF after a chunk's data, possibly split over two reads.
        const expected = this.line.length === 0 ? CR : LF;
        if (data[at] !== expected) return new Error('a chunk is not followed by CRLF');
        if (expected === CR) this.line = '\r';
        else {
          this.line = '';
          this.state = State.ChunkSize;
        }
        return at + 1;
      }
      case State.ChunkSize:
      case State.Trailers:
        return this.readChunkLine(data, at);
      default:
        return data.length;
    }
  }

  /** A chunk-size line, or a line of the trailer section (discarded: the proxy writes its own framing). */
  private readChunkLine(data: Buffer, at: number): number | Error {
    const lf = data.indexOf(LF, at);
    const end = lf < 0 ? data.length : lf + 1;
    this.line += data.toString('latin1', at, end);
    if (this.line.length > MAX_CHUNK_LINE) return new Error(`a chunk-size line or the trailers exceed ${MAX_CHUNK_LINE} bytes`);
    if (lf < 0) return end;
    const line = this.line;
    this.line = '';
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR) return new Error('a chunk line ends in a bare LF');
    const content = line.slice(0, -2);
    if (this.state === State.Trailers) {
      if (content.length === 0) return this.complete(end);
      return end;
    }
    const semicolon = content.indexOf(';');
    const size = (semicolon < 0 ? content : content.slice(0, semicolon)).trimEnd();
    if (!HEX.test(size)) return new Error(`chunk size "${size}" is not a hexadecimal number`);
    this.remaining = Number.parseInt(size, 16);
    this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
    return end;
  }
}

/** `chunked` must be the last coding (RFC 9112 §6.3); only `chunked` alone is forwarded by the proxy. */
function isChunked(codings: string): boolean {
  return codings === 'chunked' || codings.endsWith(',chunked') || codings.endsWith(', chunked');
}

function requestLine(line: string, head: MessageHead): string | undefined {
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) return `the request line "${line.slice(0, 100)}" is not METHOD TARGET HTTP/1.x`;
  const method = line.slice(0, sp1);
  const url = line.slice(sp1 + 1, sp2);
  const minor = version(line.slice(sp2 + 1));
  if (!TOKEN.test(method)) return `the method "${method.slice(0, 100)}" is not a token`;
  if (!TARGET.test(url)) return 'the request target holds a control character or is empty';
  if (minor === undefined) return `the request line "${line.slice(0, 100)}" is not METHOD TARGET HTTP/1.x`;
  head.method = method;
  head.url = url;
  head.versionMinor = minor;
  return undefined;
}

function statusLine(line: string, head: MessageHead): string | undefined {
  const sp1 = line.indexOf(' ');
  const minor = sp1 < 0 ? undefined : version(line.slice(0, sp1));
  const code = line.slice(sp1 + 1, sp1 + 4);
  const after = line.charCodeAt(sp1 + 4);
  if (minor === undefined || !/^[1-9][0-9][0-9]$/.test(code) || !(Number.isNaN(after) || after === 32)) {
    return `the status line "${line.slice(0, 100)}" is not HTTP/1.x CODE REASON`;
  }
  head.versionMinor = minor;
  head.statusCode = Number(code);
  head.statusMessage = line.slice(sp1 + 5);
  if (!FIELD_VALUE.test(head.statusMessage)) return 'the reason phrase holds a control character';
  return undefined;
}

function version(text: string): number | undefined {
  if (text === 'HTTP/1.1') return 1;
  if (text === 'HTTP/1.0') return 0;
  return undefined;
}
