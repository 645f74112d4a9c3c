/** `stepline run`: one execution of a pipeline on this machine, watched from the terminal. */
import { createServer, type Server } from 'node:http';
import { createInterface } from 'node:readline/promises';
import { ApprovalDecision, newExecutionId, type Pipeline, pipelineStateFrom } from '@stepline/core';
import { type ApprovalMode, type ApprovalRow, executedMachine, handleApprovalRoute, LocalRuntime, type ProgressSink, type RunResult } from '@stepline/local';
import { type Command, Option } from 'commander';
import { addTargetOptions, type TargetOptions, targetOf, withBackend } from '../backends';
import { UsageError } from '../errors';
import { loadPipeline } from '../load-pipeline';
import { formatDuration, formatTable, printJson } from '../output';
import { collect, parseSourceRevisions, parseVariables, SOURCE_REVISION_HELP } from './variables';

interface RunOptions {
  repo: string;
  var: string[];
  sourceRevision: string[];
  approve?: string;
  json?: boolean;
  verbose?: boolean;
  port: string;
  executionId?: string;
  conditionPoll?: string;
}

/** While a question waits for an answer on the terminal, the live line must not write over it. */
let liveLinePaused = false;

/** Lines for people: to stdout, or to stderr when stdout carries JSON. A live line on a TTY. */
export function terminalSink(json: boolean): ProgressSink {
  const out = json ? process.stderr : process.stdout;
  const tty = out.isTTY === true;
  let live = '';
  return {
    line: (text) => {
      // A finished line replaces the live one, which is drawn again below it on the next tick.
      if (live !== '') {
        out.write('\r\x1b[K');
        live = '';
      }
      out.write(`${text}\n`);
    },
    ...(tty && {
      status: (text: string) => {
        if (text === live || liveLinePaused) return;
        out.write(`\r\x1b[K${text.slice(0, (out.columns ?? 120) - 1)}`);
        if (text === '') out.write('\r');
        live = text;
      },
    }),
  };
}

/** A small HTTP server for approval links, started the first time a link is needed. */
export function approvalServer(runtime: LocalRuntime, port: number): { baseUrl: () => Promise<string>; close: () => Promise<void> } {
  let server: Server | undefined;
  let url: Promise<string> | undefined;
  return {
    baseUrl: () => {
      url ??= new Promise((resolve, reject) => {
        server = createServer((req, res) => {
          handleApprovalRoute(req, res, runtime.approvals).then(
            (handled) => {
              if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
            },
            () => res.writeHead(400).end(),
          );
        });
        server.once('error', (e) => reject(new UsageError(`cannot serve approval links on 127.0.0.1:${port}: ${e.message}`)));
        server.listen(port, '127.0.0.1', () => {
          const address = server?.address();
          resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
        });
      });
      return url;
    },
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

function approvalMode(value: string | undefined): ApprovalMode {
  if (value === undefined) return process.stdin.isTTY ? 'prompt' : 'link';
  if (value !== 'prompt' && value !== 'auto' && value !== 'link')
    throw new UsageError(`--approve: expected prompt, auto or link, got ${JSON.stringify(value)}`);
  return value;
}

/** Asks on the terminal; the question goes where progress goes (stderr with --json, so stdout stays JSON). */
function askOnTerminal(json: boolean) {
  const out = json ? process.stderr : process.stdout;
  return (approval: ApprovalRow, signal: AbortSignal) => ask(approval, signal, out);
}

async function ask(approval: ApprovalRow, signal: AbortSignal, out: NodeJS.WriteStream): Promise<{ decision: ApprovalDecision; comment: string } | undefined> {
  const rl = createInterface({ input: process.stdin, output: out });
  // readline takes Ctrl-C while it reads: hand it on, so that it stops the execution as anywhere else.
  rl.on('SIGINT', () => process.emit('SIGINT'));
  liveLinePaused = true;
  out.write('\r\x1b[K');
  try {
    const answer = (await rl.question(`Approve ${approval.stage} · ${approval.action}? [y/n] `, { signal })).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes' && answer !== 'n' && answer !== 'no') return undefined;
    const comment = await rl.question('Comment (optional): ', { signal });
    return { decision: answer.startsWith('y') ? ApprovalDecision.Approve : ApprovalDecision.Reject, comment: comment.trim() };
  } catch {
    return undefined;
  } finally {
    liveLinePaused = false;
    rl.close();
  }
}

export function printSummary(result: RunResult, sink: ProgressSink): void {
  const rows = result.timings.map((t) => [
    t.stage,
    t.action,
    t.kind,
    t.status,
    formatDuration(t.startedAt !== undefined && t.endedAt !== undefined ? t.endedAt - t.startedAt : undefined),
  ]);
  sink.line('');
  if (rows.length > 0) sink.line(formatTable(['STAGE', 'ACTION', 'KIND', 'STATUS', 'TIME'], rows));
  sink.line('');
  if (result.status === 'Succeeded') sink.line(`execution ${result.executionId} succeeded`);
  else {
    const where = result.failure ? ` in stage ${result.failure.stage}${result.failure.action ? `, action ${result.failure.action}` : ''}` : '';
    sink.line(`execution ${result.executionId} ${result.status.toLowerCase()}${where}${result.error ? `: ${result.error}` : ''}`);
    if (result.cause) sink.line(`  ${result.cause}`);
    if (result.failure?.logTail.length) {
      sink.line('  last lines of its log:');
      for (const l of result.failure.logTail) sink.line(`  | ${l}`);
    }
  }
}

/** Runs `work` with a runtime wired to this terminal: progress, approval links, Ctrl-C to stop. */
async function withTerminalRuntime(
  opts: Pick<RunOptions, 'approve' | 'json' | 'verbose' | 'port' | 'conditionPoll'>,
  work: (runtime: LocalRuntime, sink: ProgressSink, setExecution: (id: string) => void) => Promise<RunResult>,
): Promise<{ result: RunResult; interrupted: boolean }> {
  const mode = approvalMode(opts.approve);
  const sink = terminalSink(opts.json === true);
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number, got ${JSON.stringify(opts.port)}`);
  let server: ReturnType<typeof approvalServer> | undefined;
  const poll = opts.conditionPoll === undefined ? undefined : Number(opts.conditionPoll);
  if (poll !== undefined && !(Number.isInteger(poll) && poll >= 1))
    throw new UsageError(`--condition-poll: expected a whole number of seconds, at least 1, got ${JSON.stringify(opts.conditionPoll)}`);
  const runtime = new LocalRuntime({
    project: process.cwd(),
    sink,
    ...(poll !== undefined && { conditionPollSeconds: poll }),
    ...(opts.verbose && { output: (text: string) => (opts.json ? process.stderr : process.stdout).write(text) }),
    approval: {
      mode,
      baseUrl: () => (server as ReturnType<typeof approvalServer>).baseUrl(),
      announce: (approval, links) => {
        sink.line(`  approval needed: ${approval.stage} · ${approval.action}${approval.customData ? ` — ${approval.customData}` : ''}`);
        if (links) {
          sink.line(`    approve: ${links.approveUrl}`);
          sink.line(`    reject:  ${links.rejectUrl}`);
        }
        sink.line(`    or from another terminal: stepline approve ${approval.executionId} --stage ${approval.stage} (or reject)`);
      },
      prompt: askOnTerminal(opts.json === true),
    },
  });
  server = approvalServer(runtime, port);
  let interrupted = 0;
  let executionId: string | undefined;
  const onSignal = () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    sink.line('stopping (Ctrl-C again to quit at once)...');
    if (executionId) runtime.stop(executionId, 'abandon');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await work(runtime, sink, (id) => {
      executionId = id;
    });
    return { result, interrupted: interrupted > 0 };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.close();
    await runtime.close();
  }
}

function report(runtime: LocalRuntime, pipeline: Pipeline, result: RunResult, json: boolean, sink: ProgressSink): void {
  if (json) {
    const state = pipelineStateFrom({
      ...executedMachine(runtime.store.getExecution(result.executionId), pipeline),
      execution: { executionId: result.executionId, status: result.status, events: runtime.store.events(result.executionId) },
    });
    printJson({
      executionId: result.executionId,
      pipeline: pipeline.name,
      status: result.status,
      error: result.error,
      cause: result.cause,
      state,
      failure: result.failure,
    });
  } else printSummary(result, sink);
}

/** The flags `addTargetOptions` adds. */
interface AwsTargetFlags {
  target?: string;
  region?: string;
  profile?: string;
  install?: string;
}

/** The AWS installation the flags name. */
const awsTarget = (opts: AwsTargetFlags): TargetOptions => ({
  target: 'aws',
  ...(opts.region && { region: opts.region }),
  ...(opts.profile && { profile: opts.profile }),
  ...(opts.install && { stage: opts.install }),
});

export function register(program: Command): void {
  program
    .command('run')
    .description('run a pipeline on this machine, end to end (no AWS account needed)')
    .argument('[file]', 'pipeline definition (default: stepline.yml)')
    .option('--repo <path>', 'git repository the source actions read', '.')
    .option('--var <name=value>', 'set a pipeline variable for this run (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--source-revision <action=TYPE:value>', SOURCE_REVISION_HELP, collect, [])
    .option('--approve <mode>', 'approvals: prompt (ask here), auto (approve at once) or link (print links and wait)')
    .option('--port <port>', 'port for approval links (0: any free port)', '0')
    .option('--json', 'print the outcome as JSON (progress goes to stderr)')
    .option('--verbose', 'stream build and command output')
    .option('--condition-poll <seconds>', 'check a waiting stage condition again after this many seconds (an override is seen sooner)')
    .addOption(new Option('--execution-id <id>', 'name the execution (start-pipeline-execution uses it)').hideHelp())
    .action(async (file: string | undefined, opts: RunOptions) => {
      const { pipeline, file: path } = await loadPipeline(file);
      const variables = parseVariables(opts.var);
      const sourceRevisions = parseSourceRevisions(opts.sourceRevision);
      const { result, interrupted } = await withTerminalRuntime(opts, async (runtime, sink, setExecution) => {
        const executionId = opts.executionId ?? newExecutionId(new Date(), Math.random);
        setExecution(executionId);
        sink.line(`stepline run: pipeline ${pipeline.name} (${path}), execution ${executionId}`);
        const result = await runtime.run({ pipeline, file: path, repo: opts.repo, variables, sourceRevisions, executionId });
        report(runtime, pipeline, result, opts.json === true, sink);
        if (result.rollback && !opts.json) sink.line(`execution ${result.rollback.executionId} rolled stage back: ${result.rollback.status.toLowerCase()}`);
        return result;
      });
      process.exitCode = result.status === 'Succeeded' ? 0 : interrupted ? 130 : 1;
    });

  addTargetOptions(
    program
      .command('retry-stage-execution')
      .description('re-run a failed execution from its failed stage, with the pipeline it ran')
      .argument('<execution>', 'execution id'),
  )
    .option('--repo <path>', 'git repository the source actions read', '.')
    .option('--approve <mode>', 'approvals: prompt, auto or link')
    .option('--port <port>', 'port for approval links (0: any free port)', '0')
    .option('--condition-poll <seconds>', 'check a waiting stage condition again after this many seconds (an override is seen sooner)')
    .option('--json', 'print the outcome as JSON')
    .option('--verbose', 'stream build and command output')
    .action(async (id: string, opts: RunOptions & AwsTargetFlags) => {
      if (targetOf(opts.target) === 'aws') {
        await withBackend(awsTarget(opts), async (b) => {
          const { executionId } = await b.retryStageExecution(id);
          if (opts.json) printJson({ pipelineExecutionId: executionId });
          else process.stdout.write(`retrying ${executionId}\n`);
        });
        return;
      }
      const { result, interrupted } = await withTerminalRuntime(opts, async (runtime, sink, setExecution) => {
        const execution = runtime.store.getExecution(id);
        if (!execution) throw new UsageError(`no execution ${id} on this machine (see stepline list-executions)`);
        // It runs again what it ran; its file is read only for an execution recorded before stepline kept that.
        const recordedBefore = execution.machine || !execution.definitionFile ? undefined : (await loadPipeline(execution.definitionFile)).pipeline;
        const pipeline = execution.machine?.pipeline ?? recordedBefore;
        if (!pipeline) throw new UsageError(`execution ${id} does not record the pipeline it ran`);
        setExecution(id);
        const result = await runtime.retry(id, opts.repo, recordedBefore);
        report(runtime, pipeline, result, opts.json === true, sink);
        return result;
      });
      process.exitCode = result.status === 'Succeeded' ? 0 : interrupted ? 130 : 1;
    });

  addTargetOptions(
    program
      .command('rollback-stage')
      .description(
        'run a stage again, alone, with the artifacts and variables of an earlier execution that succeeded through it (as aws codepipeline rollback-stage)',
      )
      .argument('[file]', 'pipeline definition (default: stepline.yml); with --target aws, the pipeline name'),
  )
    .requiredOption('--stage <stage>', 'the stage to roll back')
    .option('--target-execution <id>', 'the execution to roll back to (default: the last that succeeded through the stage)')
    .option('--repo <path>', 'git repository the source actions read', '.')
    .option('--approve <mode>', 'approvals: prompt, auto or link')
    .option('--port <port>', 'port for approval links (0: any free port)', '0')
    .option('--json', 'print the outcome as JSON')
    .option('--verbose', 'stream build and command output')
    .action(async (file: string | undefined, opts: RunOptions & AwsTargetFlags & { stage: string; targetExecution?: string }) => {
      if (targetOf(opts.target) === 'aws') {
        if (file === undefined)
          throw new UsageError('rollback-stage --target aws: name the pipeline (stepline rollback-stage <pipeline> --stage S --target aws)');
        await withBackend(awsTarget(opts), async (b) => {
          const started = await b.rollbackStage(file, opts.stage, { ...(opts.targetExecution !== undefined && { targetExecution: opts.targetExecution }) });
          if (opts.json) printJson({ pipelineExecutionId: started.executionId, targetExecution: started.targetExecution });
          else process.stdout.write(`rolling back stage ${opts.stage} to execution ${started.targetExecution} in execution ${started.executionId}\n`);
        });
        return;
      }
      const { pipeline } = await loadPipeline(file);
      const { result, interrupted } = await withTerminalRuntime(opts, async (runtime, sink) => {
        const result = await runtime.rollbackStage({
          pipeline: pipeline.name,
          stage: opts.stage,
          repo: opts.repo,
          ...(opts.targetExecution !== undefined && { targetExecution: opts.targetExecution }),
        });
        report(runtime, pipeline, result, opts.json === true, sink);
        return result;
      });
      process.exitCode = result.status === 'Succeeded' ? 0 : interrupted ? 130 : 1;
    });
}
