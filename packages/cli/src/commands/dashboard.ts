/**
 * `stepline dashboard`: the console on 127.0.0.1. On this machine (the default) it is `serve`
 * without webhooks: the history under `.stepline/`, with the page actions. With `--target aws
 * --install <team>` it reads that installation's Step Functions history and S3 with the user's own
 * credentials, as `kubectl argo rollouts dashboard` does: nothing is exposed beyond this machine.
 */
import { startConsoleServer, startServer } from '@stepline/local';
import type { Command } from 'commander';
import { targetOf } from '../backends';
import { UsageError } from '../errors';
import { type LoadedPipeline, loadPipeline } from '../load-pipeline';
import { LocalBackend } from '../local-backend';
import { terminalSink } from './run';

interface DashboardOptions {
  port: string;
  target?: string;
  install?: string;
  region?: string;
  profile?: string;
  repo: string;
  readOnly?: boolean;
}

const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

/** Every pipeline this machine knows (run before, or defined here); one that no longer loads is said and left out. */
async function knownPipelines(sink: { line(text: string): void }): Promise<LoadedPipeline[]> {
  const backend = new LocalBackend();
  try {
    const out: LoadedPipeline[] = [];
    for (const p of await backend.listPipelines()) {
      try {
        out.push(await loadPipeline(p.location));
      } catch (error) {
        sink.line(`  ${p.name}: left out: ${(error as Error).message}`);
      }
    }
    return out;
  } finally {
    backend.close();
  }
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description("the live console on 127.0.0.1: this machine's history, or an AWS installation's (--target aws --install <team>)")
    .option('--port <port>', 'port to listen on', '8990')
    .option('--target <target>', 'local (this machine) or aws (an installation)', 'local')
    .option('--install <name>', 'the installation (its sst stage) to show (--target aws)')
    .option('--region <region>', 'AWS region (--target aws)')
    .option('--profile <profile>', 'AWS profile (--target aws)')
    .option('--repo <path>', 'git repository the source actions read (local)', '.')
    .option('--read-only', 'show, without the buttons that change anything')
    .action(async (opts: DashboardOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number, got ${JSON.stringify(opts.port)}`);
      const sink = terminalSink(false);
      if (targetOf(opts.target) === 'aws') {
        const { openAwsConsole } = await import('../console/aws-console');
        const source = await openAwsConsole({
          ...(opts.install !== undefined && { stage: opts.install }),
          ...(opts.region !== undefined && { region: opts.region }),
          ...(opts.profile !== undefined && { profile: opts.profile }),
          readOnly: opts.readOnly === true,
        });
        const server = await startConsoleServer({ source, port, log: (l) => sink.line(l) });
        sink.line(`stepline dashboard: ${source.where} on ${server.url}/ (with your AWS credentials; Ctrl-C to stop)`);
        await untilStopped();
        await server.close();
        return;
      }
      const pipelines = await knownPipelines(sink);
      const server = await startServer({ project: process.cwd(), repo: opts.repo, host: '127.0.0.1', port, pipelines, sink });
      sink.line(`stepline dashboard: ${pipelines.map((p) => p.pipeline.name).join(', ') || 'no pipelines yet'} on ${server.url}/ (Ctrl-C to stop)`);
      await untilStopped();
      sink.line('stopping...');
      await server.close();
    });
}
