import { describe, expect, it } from 'vitest';
import { type MessageHead, MessageKind, MessageReader } from './http1-reader';

interface Read {
  heads: Array<Pick<MessageHead, 'method' | 'url' | 'statusCode' | 'contentLength' | 'transferEncoding' | 'shouldKeepAlive' | 'upgrade'>>;
  bodies: string[];
  error: string | undefined;
}

/** Feeds `pieces` to a reader, one `execute` each, then the connection's end when `end`. */
function read(kind: MessageKind, pieces: readonly string[], options: { end?: boolean; bodiless?: (head: MessageHead) => boolean } = {}): Read {
  const out: Read = { heads: [], bodies: [], error: undefined };
  let body: string | undefined;
  const reader = new MessageReader(kind, {
    onHead: (head) => {
      const { method, url, statusCode, contentLength, transferEncoding, shouldKeepAlive, upgrade } = head;
      out.heads.push({ method, url, statusCode, contentLength, transferEncoding, shouldKeepAlive, upgrade });
      body = '';
      return options.bodiless?.(head) ?? false;
    },
    onBody: (chunk) => {
      body += chunk.toString('latin1');
    },
    onComplete: () => {
      out.bodies.push(body ?? '');
      body = undefined;
    },
  });
  for (const piece of pieces) {
    const error = reader.execute(Buffer.from(piece, 'latin1'));
    if (error) {
      out.error = error.message;
      return out;
    }
  }
  if (options.end) out.error = reader.finish()?.message;
  return out;
}

/** The same bytes in every split into two reads, and one byte at a time, read the same as in one piece. */
function everySplit(kind: MessageKind, text: string, options: { end?: boolean } = {}): Read {
  const whole = read(kind, [text], options);
  for (let i = 1; i < text.length; i++) expect(read(kind, [text.slice(0, i), text.slice(i)], options), `split at ${i}`).toStrictEqual(whole);
  expect(read(kind, [...text], options)).toStrictEqual(whole);
  return whole;
}

const head = (over: Partial<Read['heads'][number]>): Read['heads'][number] => ({
  method: '',
  url: '',
  statusCode: 0,
  contentLength: undefined,
  transferEncoding: undefined,
  shouldKeepAlive: true,
  upgrade: false,
  ...over,
});

describe('MessageReader', () => {
  it('reads pipelined requests with sized and chunked bodies (extensions and trailers too), however the bytes are split', () => {
    const text =
      '\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'PUT /b?q=1 HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n' +
      'GET /c HTTP/1.1\r\nConnection: close\r\n\r\n';
    expect(everySplit(MessageKind.Request, text)).toStrictEqual({
      heads: [
        head({ method: 'POST', url: '/a', contentLength: 5 }),
        head({ method: 'PUT', url: '/b?q=1', transferEncoding: 'chunked' }),
        head({ method: 'GET', url: '/c', shouldKeepAlive: false }),
      ],
      bodies: ['hello', 'abc0123456789', ''],
      error: undefined,
    });
  });

  it('reads answers framed by length, by chunks, by the connection closing, and without a body (1xx, 204, 304, HEAD)', () => {
    const text =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' +
      'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n' +
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n' +
      'HTTP/1.0 200 OK\r\n\r\nuntil the end';
    const result = everySplit(MessageKind.Response, text, { end: true });
    expect(result.heads.map((h) => [h.statusCode, h.shouldKeepAlive])).toStrictEqual([
      [100, true],
      [200, true],
      [204, true],
      [304, true],
      [201, true],
      [200, false],
    ]);
    expect(result.bodies).toStrictEqual(['', 'ok', '', '', 'ab', 'until the end']);
    expect(result.error).toBeUndefined();

    // The answer to a HEAD request has no body, whatever its content-length says.
    const answerToHead = read(MessageKind.Response, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'], {
      bodiless: (h) => h.contentLength === 10,
    });
    expect(answerToHead.bodies).toStrictEqual(['', 'x']);
  });

  it('says which requests want to keep the connection or upgrade it', () => {
    const result = read(MessageKind.Request, [
      'GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n' +
        'GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: websocket\r\n\r\nCONNECT h:443 HTTP/1.1\r\n\r\n',
    ]);
    expect(result.heads.map((h) => [h.shouldKeepAlive, h.upgrade])).toStrictEqual([
      [false, false],
      [true, false],
      [true, true],
      [true, true],
    ]);
  });

  it.each([
    ['HELLO\r\n\r\n', 'is not METHOD TARGET HTTP/1.x'],
    ['GET / HTTP/2.0\r\n\r\n', 'is not METHOD TARGET HTTP/1.x'],
    ['GET /a b HTTP/1.1\r\n\r\n', 'is not METHOD TARGET HTTP/1.x'],
    ['G(T / HTTP/1.1\r\n\r\n', 'the method "G(T" is not a token'],
    ['GET / HTTP/1.1\nHost: x\n\n', 'bare LF'],
    ['GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n', 'header "Host" holds a control character'],
    ['GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n', 'header line 2 is folded'],
    ['GET / HTTP/1.1\r\nX : a\r\n\r\n', 'header name "X " is not a token'],
    ['GET / HTTP/1.1\r\n: a\r\n\r\n', 'header line 1 has no name'],
    ['POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 'both content-length and transfer-encoding'],
    ['POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'two different content-length headers'],
    ['POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n', 'content-length "+5" is not a number of bytes'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n', 'chunk size "z" is not a hexadecimal number'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', 'a chunk is not followed by CRLF'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nab', 'a chunk line ends in a bare LF'],
    [`GET / HTTP/1.1\r\nX: ${'a'.repeat(70_000)}`, 'larger than 64 KiB'],
  ])('refuses %j, saying why', (text, why) => {
    const result = read(MessageKind.Request, [text]);
    expect(result.error).toContain(why);
  });

  it('refuses an answer whose status line is not HTTP/1.x, and one cut short', () => {
    expect(read(MessageKind.Response, ['ICY 200 OK\r\n\r\n']).error).toContain('is not HTTP/1.x CODE REASON');
    expect(read(MessageKind.Response, ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'], { end: true }).error).toBe(
      'the connection ended in the middle of a message',
    );
  });
});
