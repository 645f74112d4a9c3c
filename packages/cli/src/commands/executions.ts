/**
 * The verbs that steer pipelines, as in the CodePipeline CLI: on this machine by default, or on an
 * AWS installation with `--target aws`. A table by default; `--json` (or `--output json`) for scripts.
 */
import { OverridableCondition, type PipelineState, type RuleExecution } from '@stepline/core';
import { localUser } from '@stepline/local';
import { type Command, Option } from 'commander';
import type { ExecutionDetail, ExecutionSummary, PipelineBackend } from '../backend';
import { addTargetOptions, type TargetOptions, withBackend } from '../backends';
import { UsageError } from '../errors';
import { loadPipeline } from '../load-pipeline';
import { formatTable, printJson } from '../output';
import { collect, parseSourceRevisions, parseVariables, SOURCE_REVISION_HELP } from './variables';

interface OutputOptions extends Omit<TargetOptions, 'stage'> {
  json?: boolean;
  output?: string;
  install?: string;
  stage?: string;
}

/** Backend options from a verb's options: `--install` names the installation (its sst stage). */
const targetOptions = (o: OutputOptions): TargetOptions => ({
  ...(o.target !== undefined && { target: o.target }),
  ...(o.region !== undefined && { region: o.region }),
  ...(o.profile !== undefined && { profile: o.profile }),
  ...(o.install !== undefined && { stage: o.install }),
});

/** The pipeline a verb is about: the one named, else the one defined here, else the only one known. */
async function pipelineName(given: string | undefined, backend: PipelineBackend): Promise<string> {
  if (given !== undefined) return given;
  try {
    return (await loadPipeline(undefined)).pipeline.name;
  } catch {
    const known = await backend.listPipelines();
    if (known.length === 1 && known[0]) return known[0].name;
    throw new UsageError(known.length === 0 ? 'no pipeline: name one' : `name a pipeline: ${known.map((p) => p.name).join(', ')}`);
  }
}

const asJson = (o: OutputOptions) => {
  if (o.output !== undefined && o.output !== 'json' && o.output !== 'table')
    throw new UsageError(`--output: expected table or json, got ${JSON.stringify(o.output)}`);
  return o.json === true || o.output === 'json';
};

/** Options every steering verb takes. */
function common(command: Command): Command {
  return addTargetOptions(command)
    .option('--json', 'print JSON')
    .addOption(new Option('--output <format>', 'table or json').choices(['table', 'json']));
}

const short = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

export function formatPipelineState(state: PipelineState): string {
  const rows: string[][] = [];
  for (const stage of state.stages) {
    const transition = stage.inboundTransition.enabled ? '' : `transition disabled: ${stage.inboundTransition.reason ?? ''}`;
    const held = stage.held ? `held since ${short(stage.held.since)}: ${stage.held.reason}` : '';
    const retried = stage.retryStageMetadata ? `retried automatically at ${short(stage.retryStageMetadata.retriedAt)}` : '';
    rows.push([stage.name, '', stage.status ?? '', '', [transition, held, retried].filter(Boolean).join('; ')]);
    for (const a of stage.actions) rows.push(['', a.name, a.status ?? '', short(a.lastStatusChange), a.error ? `${a.error.code}: ${a.error.message}` : '']);
  }
  const head = `pipeline ${state.pipeline}${state.executionId ? `, execution ${state.executionId} (${state.status})` : ', no execution yet'}`;
  return `${head}\n${formatTable(['STAGE', 'ACTION', 'STATUS', 'LAST CHANGE', 'DETAIL'], rows)}\n`;
}

function executionsTable(list: ExecutionSummary[]): string {
  if (list.length === 0) return 'no executions\n';
  return `${formatTable(
    ['EXECUTION', 'PIPELINE', 'STATUS', 'STARTED', 'ENDED', 'TRIGGER', 'COMMIT'],
    list.map((e) => [e.executionId, e.pipeline, e.status, short(e.startedAt), short(e.endedAt), e.trigger ?? '', (e.commitId ?? '').slice(0, 12)]),
  )}\n`;
}

function executionText(d: ExecutionDetail): string {
  const lines = [
    `execution ${d.executionId} of ${d.pipeline}: ${d.status}`,
    `  started ${short(d.startedAt)}${d.endedAt ? `, ended ${short(d.endedAt)}` : ''}${d.trigger ? `, by ${d.trigger}` : ''}${d.commitId ? `, commit ${d.commitId}` : ''}`,
  ];
  if (d.error) lines.push(`  ${d.error}${d.cause ? `: ${d.cause}` : ''}`);
  lines.push('', formatPipelineState(d.state));
  const builds = Object.entries(d.builds);
  if (builds.length > 0) {
    lines.push(
      formatTable(
        ['BUILD', 'PHASE', 'STATUS', 'SECONDS'],
        builds.flatMap(([action, b]) =>
          // A build known only by its status (a batch's build on AWS) gets one line.
          b.phases.length === 0
            ? [[action, '', b.status ?? '', '']]
            : b.phases.map((p, i) => [i === 0 ? action : '', p.name, p.status, p.durationMs === undefined ? '' : (p.durationMs / 1000).toFixed(1)]),
        ),
      ),
    );
    for (const [action, b] of builds) {
      if (b.batch && b.batch.dependsOn.length > 0) lines.push(`  ${action} ran after ${b.batch.dependsOn.join(', ')}`);
    }
    for (const [action, b] of builds) if (b.logLocation) lines.push(`  log of ${action}: ${b.logLocation}`);
    lines.push('');
  }
  if (d.approvals.length > 0) {
    lines.push(
      formatTable(
        ['APPROVAL', 'STATUS', 'BY', 'COMMENT'],
        d.approvals.map((a) => [`${a.stage}.${a.action}`, a.status, a.decidedBy ?? '', a.comment ?? '']),
      ),
      '',
    );
  }
  if (d.artifacts.length > 0)
    lines.push(
      formatTable(
        ['ARTIFACT', 'FILES', 'LOCATION'],
        d.artifacts.map((a) => [a.name, String(a.files ?? ''), a.location]),
      ),
      '',
    );
  const vars = Object.entries(d.variables);
  if (vars.length > 0) lines.push(formatTable(['VARIABLE', 'VALUE'], vars), '');
  return `${lines.join('\n')}\n`;
}

function ruleExecutionsTable(list: RuleExecution[]): string {
  if (list.length === 0) return 'no rule executions\n';
  return `${formatTable(
    ['EXECUTION', 'STAGE', 'CONDITION', 'RULE', 'PROVIDER', 'STATUS', 'STARTED', 'UPDATED', 'SUMMARY'],
    list.map((r) => [
      r.pipelineExecutionId,
      r.stageName,
      r.condition,
      r.ruleName,
      r.input.ruleTypeId.provider,
      r.status,
      short(r.startTime),
      short(r.lastUpdateTime),
      r.output?.executionResult.externalExecutionSummary ?? '',
    ]),
  )}\n`;
}

const out = (text: string) => process.stdout.write(text);

/** A verb that reads: its answer printed as JSON with --json, else as text. */
const show = <T>(o: OutputOptions, read: (backend: PipelineBackend) => Promise<T>, text: (answer: T) => string) =>
  withBackend(targetOptions(o), async (b) => {
    const answer = await read(b);
    if (asJson(o)) printJson(answer);
    else out(text(answer));
  });

export function register(program: Command): void {
  common(program.command('list-pipelines').description('list the pipelines')).action((o: OutputOptions) =>
    show(
      o,
      (b) => b.listPipelines(),
      (list) =>
        list.length
          ? `${formatTable(
              ['PIPELINE', 'MODE', 'LOCATION'],
              list.map((p) => [p.name, p.executionMode ?? '', p.location]),
            )}\n`
          : 'no pipelines\n',
    ),
  );

  common(program.command('list-executions').description('list recent executions, newest first').argument('[pipeline]', 'only this pipeline')).action(
    (pipeline: string | undefined, o: OutputOptions) => show(o, (b) => b.listExecutions(pipeline), executionsTable),
  );

  common(
    program
      .command('get-pipeline-state')
      .description('stages, actions and their status, like aws codepipeline get-pipeline-state')
      .argument('[pipeline]', 'pipeline name (default: the one here)'),
  )
    .option('--execution <id>', 'show this execution (default: the latest)')
    .action((pipeline: string | undefined, o: OutputOptions & { execution?: string }) =>
      show(o, async (b) => b.getPipelineState(await pipelineName(pipeline, b), o.execution), formatPipelineState),
    );

  common(
    program.command('get-execution').description('one execution: stages, actions, build phases, approvals, artifacts').argument('<execution>', 'execution id'),
  ).action((id: string, o: OutputOptions) => show(o, (b) => b.getExecution(id), executionText));

  common(
    program
      .command('start-pipeline-execution')
      .description('start an execution (in the background on this machine)')
      .argument('[pipeline]', 'pipeline name (default: the one here)'),
  )
    .option('--var <name=value>', 'set a pipeline variable for this execution (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--source-revision <action=TYPE:value>', SOURCE_REVISION_HELP, collect, [])
    .option('--client-request-token <id>', 'names the execution: the same token twice starts one execution')
    .action((pipeline: string | undefined, o: OutputOptions & { var: string[]; sourceRevision: string[]; clientRequestToken?: string }) =>
      withBackend(targetOptions(o), async (b) => {
        const started = await b.startExecution(await pipelineName(pipeline, b), {
          variables: parseVariables(o.var),
          sourceRevisions: parseSourceRevisions(o.sourceRevision),
          ...(o.clientRequestToken && { clientRequestToken: o.clientRequestToken }),
        });
        if (asJson(o)) printJson({ pipelineExecutionId: started.executionId });
        else out(`started ${started.executionId}\n`);
      }),
    );

  common(
    program
      .command('stop-pipeline-execution')
      .description('stop an execution: let running actions finish, or --abandon them')
      .argument('<execution>', 'execution id'),
  )
    .option('--abandon', 'stop at once, abandoning running actions')
    .option('--reason <text>', 'why')
    .action((id: string, o: OutputOptions & { abandon?: boolean; reason?: string }) =>
      withBackend(targetOptions(o), async (b) => {
        await b.stopExecution(id, { abandon: o.abandon === true, ...(o.reason && { reason: o.reason }) });
        if (asJson(o)) printJson({ pipelineExecutionId: id, stopping: true });
        else out(`stopping ${id}${o.abandon ? ' (abandoning running actions)' : ''}\n`);
      }),
    );

  for (const [verb, enabled] of [
    ['disable-stage-transition', false],
    ['enable-stage-transition', true],
  ] as const) {
    const command = common(
      program
        .command(verb)
        .description(enabled ? 'let executions into a stage again' : 'hold executions at the entry of a stage')
        .argument('[pipeline]', 'pipeline name (default: the one here)'),
    ).requiredOption('--stage <stage>', 'the stage whose inbound transition changes');
    if (!enabled) command.requiredOption('--reason <text>', 'why, shown to everyone who looks');
    command.action((pipeline: string | undefined, o: OutputOptions & { reason?: string }) =>
      withBackend(targetOptions(o), async (b) => {
        const stage = o.stage as string;
        const name = await pipelineName(pipeline, b);
        if (enabled) await b.enableStageTransition(name, stage);
        else await b.disableStageTransition(name, stage, o.reason ?? '');
        if (asJson(o)) printJson({ stage, enabled });
        else out(`transition into ${stage} ${enabled ? 'enabled' : 'disabled'}\n`);
      }),
    );
  }

  common(
    program
      .command('list-rule-executions')
      .description("each evaluation of a stage condition's rules, with its result and reason, newest execution first")
      .argument('[pipeline]', 'pipeline name (default: the one here)'),
  )
    .option('--pipeline-execution-id <id>', 'only this execution')
    .action((pipeline: string | undefined, o: OutputOptions & { pipelineExecutionId?: string }) =>
      show(
        o,
        async (b) =>
          b.listRuleExecutions(await pipelineName(pipeline, b), { ...(o.pipelineExecutionId !== undefined && { pipelineExecutionId: o.pipelineExecutionId }) }),
        ruleExecutionsTable,
      ),
    );

  common(
    program
      .command('override-stage-condition')
      .description('let a stage condition that an execution waits on (a closed deployment window, a watched alarm) through by hand')
      .argument('[pipeline]', 'pipeline name (default: the one here)'),
  )
    .requiredOption('--stage <stage>', 'the stage whose condition waits')
    .requiredOption('--pipeline-execution-id <id>', 'the execution that waits')
    .addOption(new Option('--condition-type <type>', 'the condition').choices(Object.keys(OverridableCondition)).default('BEFORE_ENTRY'))
    .option('--by <who>', 'who overrides (default: $STEPLINE_APPROVER, git author e-mail or $USER)')
    .action((pipeline: string | undefined, o: OutputOptions & { stage: string; pipelineExecutionId: string; conditionType: string; by?: string }) =>
      withBackend(targetOptions(o), async (b) => {
        const override = await b.overrideStageCondition(await pipelineName(pipeline, b), {
          stage: o.stage,
          executionId: o.pipelineExecutionId,
          conditionType: o.conditionType,
          by: o.by ?? localUser(),
        });
        if (asJson(o)) printJson({ pipelineExecutionId: o.pipelineExecutionId, stageName: o.stage, conditionType: o.conditionType, ...override });
        else out(`${o.conditionType} condition of stage ${o.stage} overridden by ${override.by}: the execution goes on at its next check\n`);
      }),
    );

  for (const [verb, decision] of [
    ['approve', 'Approved'],
    ['reject', 'Rejected'],
  ] as const) {
    common(program.command(verb).description(`${verb} a pending manual approval`).argument('<execution>', 'execution id'))
      .option('--stage <stage>', 'the stage whose approval is decided (needed when several wait)')
      .option('--comment <text>', 'recorded with the decision')
      .option('--approver <who>', 'who decides (default: $STEPLINE_APPROVER, git author e-mail or $USER)')
      .action((id: string, o: OutputOptions & { comment?: string; approver?: string }) =>
        withBackend(targetOptions(o), async (b) => {
          const approver = o.approver ?? localUser();
          await b.decideApproval(id, { decision, approver, ...(o.stage && { stage: o.stage }), ...(o.comment && { comment: o.comment }) });
          if (asJson(o)) printJson({ executionId: id, decision, approver });
          else out(`${decision.toLowerCase()} by ${approver}\n`);
        }),
      );
  }
}
