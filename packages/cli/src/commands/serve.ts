/** `stepline serve`: this machine as a small self-hosted CI (webhooks, runs, approvals, API). */
import { startServer } from '@stepline/local';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { type LoadedPipeline, loadPipeline } from '../load-pipeline';
import { terminalSink } from './run';

interface ServeOptions {
  port: string;
  host: string;
  repo: string;
  pipeline: string[];
  publicUrl?: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('receive GitHub webhooks and run pipelines on this machine; serves the live console, approval pages and /api/executions')
    .option('--port <port>', 'port to listen on', '8989')
    .option('--host <host>', 'address to listen on (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--repo <path>', 'git repository the source actions read', '.')
    .option('--pipeline <file>', 'a pipeline definition to serve (repeatable; default: stepline.yml)', (v: string, all: string[]) => [...all, v], [])
    .option('--public-url <url>', 'the URL people reach this server at, used in approval links')
    .action(async (opts: ServeOptions) => {
      const secret = process.env.STEPLINE_WEBHOOK_SECRET;
      if (!secret) throw new UsageError('set STEPLINE_WEBHOOK_SECRET to the secret configured on the GitHub webhook');
      // Builds and commands inherit this process's environment: a pushed buildspec must not read the secret.
      delete process.env.STEPLINE_WEBHOOK_SECRET;
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number, got ${JSON.stringify(opts.port)}`);
      const pipelines: LoadedPipeline[] = [];
      for (const file of opts.pipeline.length > 0 ? opts.pipeline : [undefined]) pipelines.push(await loadPipeline(file));
      const names = pipelines.map((p) => p.pipeline.name);
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice) throw new UsageError(`two definitions name the pipeline ${twice}`);
      const sink = terminalSink(false);
      const server = await startServer({
        project: process.cwd(),
        repo: opts.repo,
        host: opts.host,
        port,
        webhookSecret: secret,
        pipelines,
        sink,
        ...(opts.publicUrl && { publicUrl: opts.publicUrl }),
      });
      sink.line(`stepline serve: ${names.join(', ')} on ${server.url}`);
      sink.line(`  GitHub webhook: ${opts.publicUrl ?? server.url}/webhooks/github (content type application/json, secret: STEPLINE_WEBHOOK_SECRET)`);
      sink.line(`  console:        ${opts.publicUrl ?? server.url}/`);
      sink.line(`  executions:     ${server.url}/api/executions`);
      if (server.requiresLogin) {
        sink.line(`  console token:  ${server.consoleToken} (sign in at ${opts.publicUrl ?? server.url}/login; approval links need no login)`);
        sink.line(`  warning: listening on ${opts.host}: serve it over HTTPS (a proxy in front) so the token and cookie are not sent in clear`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      sink.line('stopping...');
      await server.close();
    });
}
