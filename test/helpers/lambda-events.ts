/**
 * Lambda events and contexts for tests of stepline's functions: Function URL requests (payload 2.0),
 * a Lambda context, and a logger that keeps its lines for assertions instead of printing them.
 */

import { Readable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

export interface HttpEventOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  query?: string;
  base64?: boolean;
}

export function httpEvent(options: HttpEventOptions = {}) {
  const body = options.body ?? '';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: options.query ?? '',
    headers: options.headers ?? {},
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
    requestContext: { http: { method: options.method ?? 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' } },
  };
}

export function lambdaContext(name = 'stepline-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/01/01/[$LATEST]abc',
    getRemainingTimeInMillis: () => 9000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A powertools Logger whose JSON lines are kept in `lines` rather than printed. */
export function recordingLogger(service = 'test'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = {
    log: (line: string) => lines.push(JSON.parse(line) as LogLine),
    info: (line: string) => lines.push(JSON.parse(line) as LogLine),
    warn: (line: string) => lines.push(JSON.parse(line) as LogLine),
    error: (line: string) => lines.push(JSON.parse(line) as LogLine),
    debug: (line: string) => lines.push(JSON.parse(line) as LogLine),
    trace: (line: string) => lines.push(JSON.parse(line) as LogLine),
  };
  const logger = new Logger({ serviceName: service, logLevel: 'DEBUG' });
  // Powertools writes through its console; replace it so tests stay quiet and can read the lines.
  Object.defineProperty(logger, 'console', { value: sink, configurable: true, writable: true });
  return { logger, lines };
}

/** A GetObject body for `aws-sdk-client-mock`, readable the ways the SDK's is. */
export function s3Body(text: string) {
  const bytes = Buffer.from(text);
  return Object.assign(Readable.from([bytes]), {
    transformToString: async () => text,
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => new Blob([bytes]).stream(),
  });
}
