/**
 * HTTP for Lambda Function URLs and API Gateway HTTP APIs (payload format 2.0): the event parsed once
 * with zod into a small request, responses built in one place, and a middy middleware that turns
 * errors into answers.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { HttpError } from './errors';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number };

const HttpEventSchema = z.object({
  headers: z.record(z.string(), z.string().optional()).nullish(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().optional(),
  rawQueryString: z.string().optional(),
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
});

export interface HttpRequest {
  method: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The raw body as text (UTF-8), exactly as signed by the sender. */
  body: string;
  query: URLSearchParams;
}

/** Parses a Function URL / HTTP API event; refuses bodies over `maxBodyBytes` with 413. */
export function parseHttpEvent(event: unknown, maxBodyBytes: number): HttpRequest {
  const parsed = HttpEventSchema.safeParse(event);
  if (!parsed.success) throw new HttpError(400, 'not an HTTP request');
  const e = parsed.data;
  const raw = e.body ?? '';
  if ((e.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw)) > maxBodyBytes) throw new HttpError(413, 'request body too large');
  const body = e.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  return { method: e.requestContext.http.method.toUpperCase(), headers, body, query: new URLSearchParams(e.rawQueryString ?? '') };
}

export function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(value) };
}

export function html(statusCode: number, body: string, headers: Readonly<Record<string, string>>): HttpResponse {
  return { statusCode, headers: { ...headers }, body };
}

/**
 * Answers an `HttpError` with its status and, when it may be shown, its message; anything else is
 * logged and answered 500 without detail. `render` lets a function answer in HTML.
 */
export function httpErrors(logger: Logger, render: (status: number, message: string) => HttpResponse = (s, m) => json(s, { message: m })): MiddlewareObj {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof HttpError) {
        if (error.status >= 500) logger.error('request failed', { error });
        else logger.info('request refused', { status: error.status, reason: error.message });
        request.response = render(error.status, error.expose ? error.message : 'the request could not be served; try again later');
        return;
      }
      logger.error('unexpected error', { error: error ?? undefined });
      request.response = render(500, 'the request could not be served; try again later');
    },
  };
}
