/**
 * A server with only the console, for a source that is not this machine's runtime: `stepline
 * dashboard --target aws` reads an installation with the user's own credentials and serves the pages
 * on 127.0.0.1, so there is no public endpoint to secure.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConsoleSource } from '@stepline/web';
import { HttpError } from './body';
import { ConsoleAuth } from './console-auth';
import { ConsoleRoutes } from './console-routes';

export interface ConsoleServerOptions {
  source: ConsoleSource;
  /** @default 127.0.0.1 */
  host?: string;
  port: number;
  /** Signs CSRF tokens. @default a random key for this process */
  key?: string;
  log?: (line: string) => void;
}

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<RunningConsole> {
  const host = options.host ?? '127.0.0.1';
  const routes = new ConsoleRoutes({ source: options.source, auth: new ConsoleAuth(options.key ?? randomBytes(32).toString('base64url'), false) });
  const server = createServer((req, res) => {
    routes
      .handle(req, res)
      .then((handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      })
      .catch((error: unknown) => {
        if (res.headersSent) return res.end();
        const status = error instanceof HttpError ? error.status : 500;
        if (status === 500) options.log?.(`request ${req.method} ${req.url} failed: ${(error as Error).message}`);
        res
          .writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
          .end(status === 500 ? `could not read it: ${(error as Error).message}\n` : `${(error as Error).message}\n`);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      routes.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
