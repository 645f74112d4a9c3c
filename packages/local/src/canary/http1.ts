/**
 * The HTTP/1.1 framing the weighted proxy needs: which headers it passes on, and the heads it writes.
 * Messages are read by `MessageReader` (http1-reader.ts); the proxy never forwards the framing it
 * received (`content-length`, `transfer-encoding`) but writes its own from what the reader read, so a
 * client and a backend cannot disagree on where a message ends (no smuggling).
 */
import type { MessageHead } from './http1-reader';

// Hop-by-hop headers belong to one connection and are not forwarded (RFC 9110 §7.6.1); nor is
// `expect` (the proxy answers `100-continue` itself), nor the framing, which the proxy writes itself.
const NOT_FORWARDED = new Set([
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
  'content-length',
]);

/** A message's headers split into what is forwarded (as `name: value\r\n` lines) and its framing. */
export interface SplitHead {
  lines: string;
  /** `content-length` as received; undefined when absent. */
  contentLength: number | undefined;
  /** `transfer-encoding` as received (lower case); undefined when absent. */
  transferEncoding: string | undefined;
  expectContinue: boolean;
  hasHost: boolean;
}

/** Splits a head's headers; those the `connection` header names are hop-by-hop too. */
export function splitHead(head: MessageHead): SplitHead {
  const raw = head.headers;
  const named = head.connection;
  let expectContinue = false;
  let hasHost = false;
  let lines = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'expect') expectContinue = value.toLowerCase() === '100-continue';
    else if (lower === 'host') hasHost = true;
    if (NOT_FORWARDED.has(lower) || (named.length > 0 && named.includes(lower))) continue;
    lines += `${name}: ${value}\r\n`;
  }
  return { lines, contentLength: head.contentLength, transferEncoding: head.transferEncoding, expectContinue, hasHost };
}

/** One piece of a chunked body (RFC 9112 §7.1). */
export function chunkHead(length: number): string {
  return `${length.toString(16)}\r\n`;
}
export const CHUNK_END = '\r\n';
export const LAST_CHUNK = '0\r\n\r\n';

/** A short answer the proxy gives itself (503 with no route, 502, 400), with its own framing. */
export function plainAnswer(status: number, reason: string, body: string, extraLines: string, keepAlive: boolean): string {
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraLines}${
    keepAlive ? '' : 'connection: close\r\n'
  }\r\n${body}`;
}
