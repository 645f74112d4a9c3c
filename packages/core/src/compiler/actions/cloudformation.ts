import { checkParameterOverrides } from '../../deploy/cloudformation-input';
import { ErrorName } from '../../errors';
import type { CloudFormationAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient } from '../integrations';
import { actionResultPath } from '../references';
import { type ChoiceRule, choice, type JsonObject, pass, task, wait } from '../states';
import { actionIdentity, addFunctionActionState, addState, artifactLocationExpression, catchAll, grantInvoke } from './common';
import { LOCAL_COMMAND_FUNCTION } from './invoke';

/** How long between two looks at a stack or change set. */
export const CFN_POLL_SECONDS = 10;
/** Looks before the action gives up: 6 hours at the poll interval, past CloudFormation's own resource timeouts. */
export const CFN_MAX_POLLS = (6 * 3600) / CFN_POLL_SECONDS;
const CFN_CALL_SECONDS = 60;

const sdk = (api: string) => `arn:aws:states:::aws-sdk:cloudformation:${api}`;
const CFN_TRANSIENT = [
  {
    ErrorEquals: ['CloudFormation.ThrottlingException', 'CloudFormation.CloudFormationException.Throttling'],
    IntervalSeconds: 2,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: 'FULL' as const,
  },
];

/** Stack statuses CodePipeline's action treats as done, and as failed. */
const STACK_DONE = ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE'];
/** A stack that failed its creation: REPLACE_ON_FAILURE deletes it first, CREATE_UPDATE fails. */
const STACK_FAILED_CREATE = ['ROLLBACK_COMPLETE', 'ROLLBACK_FAILED', 'CREATE_FAILED', 'DELETE_FAILED'];
/** CloudFormation's words for "nothing to change", from UpdateStack and from an empty change set. */
const NO_CHANGE = ['*No updates are to be performed*', "*didn't contain changes*", '*does not contain changes*'];

/**
 * A CloudFormation action runs on Step Functions' SDK integrations with a wait loop in the ASL (look,
 * wait 10 s, look again), rather than in a Lambda: the loop costs four transitions per look (a
 * 5-minute stack: 126 transitions, $0.003), where a Lambda polling for the stack would pay for its whole
 * wait, and one started per look would cost more than the transitions. What the ASL cannot do, the
 * installation's cloudformation function does once on each side of the loop: `prepare` reads the input
 * artifacts (template configuration, `Fn::GetParam` files) and answers the calls' whole input, taken by
 * `InputPath`; `outputs` writes the outputs file. On one machine the same machine runs, its Tasks bound to
 * local handlers that call CloudFormation with the user's credentials. The stack's outputs become the
 * action's variables; a change set (or update) with no changes is a success, as in CodePipeline.
 *
 * State data: `$.actions.<key>` holds `{ polls, stack: { status, stack } }` (or `changeSet`), and
 * `$.actions.<key>.error` what a call that CloudFormation refused answered.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html
 */
export function compileCloudFormation(ctx: ActionContext, action: CloudFormationAction): void {
  if (ctx.options.target === 'local' && action.local !== undefined) {
    compileLocalCommand(ctx, action.local.command);
    return;
  }
  const base = actionResultPath(ctx.key);
  const n = (suffix: string) => `${ctx.name} · ${suffix}`;
  const stackName = action.stackName;
  const done = n('done');
  const failed = n('stack failed');
  const step = (name: string, state: Parameters<typeof addState>[2]) => addState(ctx, name, state, { role: 'step' });
  const stackArn = `arn:aws:cloudformation:${ctx.options.region}:${ctx.options.accountId}:stack/${stackName}/*`;
  ctx.iam.push({
    Effect: 'Allow',
    Action: [
      'cloudformation:DescribeStacks',
      'cloudformation:CreateStack',
      'cloudformation:UpdateStack',
      'cloudformation:DeleteStack',
      'cloudformation:CreateChangeSet',
      'cloudformation:DescribeChangeSet',
      'cloudformation:ExecuteChangeSet',
      'cloudformation:DeleteChangeSet',
    ],
    Resource: [stackArn],
  });
  if (action.roleArn) ctx.iam.push({ Effect: 'Allow', Action: ['iam:PassRole'], Resource: [action.roleArn] });
  for (const issue of checkParameterOverrides(action.parameterOverrides ?? {}, action.inputArtifacts, `${ctx.position.path}.parameterOverrides`))
    ctx.warnings.push(issue);
  if (action.outputFileName !== undefined && action.outputArtifacts.length === 0)
    ctx.warnings.push({ path: `${ctx.position.path}.outputFileName`, message: 'expected an output artifact to write the outputs file into' });

  // The cloudformation function reads what the ASL cannot (the template configuration, Fn::GetParam's
  // files) and answers the calls' whole input; it writes the outputs file into the output artifact.
  const fn = ctx.options.functions.cloudFormation;
  const needsTemplate = action.actionMode !== 'DELETE_ONLY' && action.actionMode !== 'CHANGE_SET_EXECUTE';
  // CloudFormation reads the TemplateURL with the caller's permissions: the state machine's role.
  if (needsTemplate)
    ctx.iam.push({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${ctx.options.artifactBucket}/${ctx.pipeline.name}/*`] });
  const writesOutputs = action.outputArtifacts.length > 0;
  if (needsTemplate || writesOutputs) grantInvoke(ctx, fn);
  const invoke = (payload: JsonObject, next: string | undefined, resultSelector?: JsonObject) =>
    task({
      resource: Resource.LambdaInvoke,
      parameters: { FunctionName: fn, Payload: { ...actionIdentity(ctx), ...payload } },
      ...(resultSelector && { resultSelector }),
      resultPath: resultSelector ? `${base}.input` : null,
      timeoutSeconds: CFN_CALL_SECONDS,
      retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
      catch: catchAll(ctx.catchTo),
      next,
    });
  /** The overrides with their `#{Namespace.Variable}` references resolved by the state machine. */
  const overrides = (given: Record<string, string>): JsonObject => {
    const out: JsonObject = {};
    for (const [name, value] of Object.entries(given)) ctx.refs.assign(out, name, value);
    return out;
  };
  const artifactRef = (name: string): JsonObject => ({ name, 'location.$': artifactLocationExpression(ctx, name) });
  const deploy: JsonObject = {
    stackName,
    inputArtifacts: action.inputArtifacts,
    ...(action.changeSetName !== undefined && { changeSetName: action.changeSetName }),
    ...(action.templatePath !== undefined && { templatePath: action.templatePath }),
    ...(action.templateConfiguration !== undefined && { templateConfiguration: action.templateConfiguration }),
    ...(action.parameterOverrides && { parameterOverrides: overrides(action.parameterOverrides) }),
    ...(action.capabilities && { capabilities: action.capabilities }),
    ...(action.roleArn && { roleArn: action.roleArn }),
  };

  const caught = (next: string) => [{ ErrorEquals: ['States.TaskFailed'], ResultPath: `${base}.error`, Next: next }, ...catchAll(ctx.catchTo)];
  const call = (
    api: string,
    parameters: JsonObject,
    next: string,
    options: { resultSelector?: JsonObject; resultPath?: string | null; onRefused?: string; inputPath?: string } = {},
  ) =>
    task({
      resource: sdk(api),
      ...(options.inputPath ? { inputPath: options.inputPath } : { parameters }),
      ...(options.resultSelector && { resultSelector: options.resultSelector }),
      resultPath: options.resultPath === undefined ? null : options.resultPath,
      timeoutSeconds: CFN_CALL_SECONDS,
      retry: CFN_TRANSIENT,
      catch: options.onRefused ? caught(options.onRefused) : catchAll(ctx.catchTo),
      next,
    });
  const describeStack = (next: string, onMissing?: string) =>
    call('describeStacks', { StackName: stackName }, next, {
      resultSelector: { 'status.$': '$.Stacks[0].StackStatus', 'stack.$': '$.Stacks[0]' },
      resultPath: `${base}.stack`,
      ...(onMissing && { onRefused: onMissing }),
    });
  /** A FAILED change set whose reason says it holds no changes: CloudFormation sets StatusReason then, but not always otherwise. */
  const noChanges = (name: string, yes: string, no: string) =>
    step(
      name,
      choice(
        [
          { Variable: `${base}.changeSet.all.StatusReason`, IsPresent: false, Next: no },
          ...NO_CHANGE.map((p) => ({ Variable: `${base}.changeSet.all.StatusReason`, StringMatches: p, Next: yes })),
        ],
        no,
      ),
    );
  const ifRefusedWith = (patterns: string[], next: string): ChoiceRule[] =>
    patterns.map((p) => ({ Variable: `${base}.error.Cause`, StringMatches: p, Next: next }));
  const statusIs = (statuses: string[], next: string, path = `${base}.stack.status`): ChoiceRule[] =>
    statuses.map((s) => ({ Variable: path, StringEquals: s, Next: next }));

  /** Wait, look at the stack, decide: the loop every stack operation ends in. */
  const stackLoop = (prefix: string, success: string, options: { successStatuses: string[]; goneIs?: string }) => {
    const waitName = n(`${prefix} wait`);
    step(waitName, wait({ seconds: CFN_POLL_SECONDS, next: n(`${prefix} count`) }));
    step(n(`${prefix} count`), pass({ parameters: { 'n.$': `States.MathAdd(${base}.polls.n, 1)` }, resultPath: `${base}.polls`, next: n(`${prefix} status`) }));
    step(n(`${prefix} status`), describeStack(n(`${prefix} check`), options.goneIs ? n(`${prefix} gone?`) : undefined));
    if (options.goneIs) step(n(`${prefix} gone?`), choice(ifRefusedWith(['*does not exist*'], options.goneIs), refusedName));
    step(
      n(`${prefix} check`),
      choice(
        [
          { Variable: `${base}.polls.n`, NumericGreaterThanEquals: CFN_MAX_POLLS, Next: n('timed out') },
          ...statusIs(options.successStatuses, success),
          { Variable: `${base}.stack.status`, StringMatches: '*_IN_PROGRESS', Next: waitName },
        ],
        failed,
      ),
    );
    return waitName;
  };

  // A call CloudFormation refused for another reason than the one looked for fails the action with its answer.
  const refusedName = n('refused');
  if (!action.actionMode.startsWith('CHANGE_SET'))
    step(refusedName, pass({ parameters: { 'Error.$': `${base}.error.Error`, 'Cause.$': `${base}.error.Cause` }, resultPath: '$.failure', next: ctx.catchTo }));

  // Entry: poll counter at zero, the calls' input prepared, then what the mode does first.
  const first = n('look');
  const prepare = n('prepare');
  addState(ctx, ctx.name, pass({ result: { polls: { n: 0 } }, resultPath: base, next: needsTemplate ? prepare : first }), { role: 'action' });
  if (needsTemplate) {
    const selector: JsonObject = { 'stack.$': '$.Payload.stack', ...(action.actionMode === 'CHANGE_SET_REPLACE' && { 'changeSet.$': '$.Payload.changeSet' }) };
    step(prepare, invoke({ operation: 'prepare', deploy, inputArtifacts: action.inputArtifacts.map(artifactRef) }, first, selector));
  }
  if (writesOutputs) {
    const outputs = n('outputs file');
    addState(ctx, done, pass({ resultPath: null, next: outputs }), { role: 'step' });
    const payload: JsonObject = {
      operation: 'outputs',
      mode: action.actionMode,
      'result.$': base,
      outputArtifact: artifactRef(action.outputArtifacts[0] ?? ''),
      ...(action.outputFileName !== undefined && { outputFileName: action.outputFileName }),
    };
    addState(ctx, outputs, invoke(payload, ctx.next), { role: 'step', final: true });
  } else addState(ctx, done, pass({ resultPath: null, ...(ctx.next !== undefined && { next: ctx.next }) }), { role: 'step', final: true });
  if (action.actionMode !== 'CHANGE_SET_REPLACE')
    step(
      failed,
      pass({
        parameters: {
          Error: ErrorName.ActionFailed,
          'Cause.$': `States.Format('stack ${stackName} ended {}', ${base}.stack.status)`,
        },
        resultPath: '$.failure',
        next: ctx.catchTo,
      }),
    );
  step(
    n('timed out'),
    pass({
      parameters: { Error: 'States.Timeout', 'Cause.$': `States.Format('stack ${stackName} still {} after ${CFN_MAX_POLLS} looks', ${base}.stack.status)` },
      resultPath: '$.failure',
      next: ctx.catchTo,
    }),
  );

  switch (action.actionMode) {
    case 'CREATE_UPDATE':
    case 'REPLACE_ON_FAILURE': {
      step(first, describeStack(n('exists?'), n('missing?')));
      step(n('missing?'), choice(ifRefusedWith(['*does not exist*'], n('create')), refusedName));
      const replace = action.actionMode === 'REPLACE_ON_FAILURE';
      step(
        n('exists?'),
        choice(
          [
            ...statusIs(STACK_FAILED_CREATE, replace ? n('delete') : failed),
            { Variable: `${base}.stack.status`, StringMatches: '*_IN_PROGRESS', Next: failed },
          ],
          n('update'),
        ),
      );
      const loop = stackLoop('stack', done, { successStatuses: STACK_DONE });
      step(n('create'), call('createStack', {}, loop, { inputPath: `${base}.input.stack` }));
      step(n('update'), call('updateStack', {}, loop, { onRefused: n('no change?'), inputPath: `${base}.input.stack` }));
      step(n('no change?'), choice(ifRefusedWith(NO_CHANGE, done), refusedName));
      if (replace) {
        const deleted = stackLoop('delete', n('create'), { successStatuses: ['DELETE_COMPLETE'], goneIs: n('create') });
        step(n('delete'), call('deleteStack', { StackName: stackName, ...(action.roleArn && { RoleARN: action.roleArn }) }, deleted));
      }
      break;
    }
    case 'DELETE_ONLY': {
      step(first, describeStack(n('delete'), n('missing?')));
      step(n('missing?'), choice(ifRefusedWith(['*does not exist*'], done), refusedName));
      const loop = stackLoop('delete', done, { successStatuses: ['DELETE_COMPLETE'], goneIs: done });
      step(n('delete'), call('deleteStack', { StackName: stackName, ...(action.roleArn && { RoleARN: action.roleArn }) }, loop));
      break;
    }
    case 'CHANGE_SET_REPLACE': {
      const changeSet = action.changeSetName ?? '';
      // A stack that does not exist yet (or only as a change set's REVIEW_IN_PROGRESS) gets a CREATE change set.
      step(first, describeStack(n('update type'), n('create type')));
      step(n('create type'), pass({ result: { ChangeSetType: 'CREATE' }, resultPath: `${base}.type`, next: n('drop old') }));
      step(n('update type'), choice(statusIs(['REVIEW_IN_PROGRESS'], n('create type')), n('update type set')));
      step(n('update type set'), pass({ result: { ChangeSetType: 'UPDATE' }, resultPath: `${base}.type`, next: n('drop old') }));
      // CodePipeline replaces a change set of the same name.
      step(
        n('drop old'),
        call('deleteChangeSet', { StackName: stackName, ChangeSetName: changeSet }, n('change set input'), { onRefused: n('change set input') }),
      );
      // The prepared input with the type decided above: the call takes one object, so the two are merged.
      step(
        n('change set input'),
        pass({
          parameters: { 'call.$': `States.JsonMerge(${base}.input.changeSet, ${base}.type, false)` },
          resultPath: `${base}.changeSetCall`,
          next: n('create change set'),
        }),
      );
      const csWait = n('change set wait');
      step(n('create change set'), call('createChangeSet', {}, csWait, { inputPath: `${base}.changeSetCall.call` }));
      step(csWait, wait({ seconds: CFN_POLL_SECONDS, next: n('change set count') }));
      step(
        n('change set count'),
        pass({ parameters: { 'n.$': `States.MathAdd(${base}.polls.n, 1)` }, resultPath: `${base}.polls`, next: n('change set status') }),
      );
      step(
        n('change set status'),
        call('describeChangeSet', { StackName: stackName, ChangeSetName: changeSet }, n('change set check'), {
          resultSelector: { 'status.$': '$.Status', 'all.$': '$' },
          resultPath: `${base}.changeSet`,
        }),
      );
      step(
        n('change set check'),
        choice(
          [
            { Variable: `${base}.polls.n`, NumericGreaterThanEquals: CFN_MAX_POLLS, Next: n('timed out') },
            ...statusIs(['CREATE_COMPLETE'], done, `${base}.changeSet.status`),
            ...statusIs(['CREATE_PENDING', 'CREATE_IN_PROGRESS'], csWait, `${base}.changeSet.status`),
            ...statusIs(['FAILED'], n('no changes?'), `${base}.changeSet.status`),
          ],
          n('change set failed'),
        ),
      );
      noChanges(n('no changes?'), done, n('change set failed'));
      step(
        n('change set failed'),
        pass({
          parameters: {
            Error: ErrorName.ActionFailed,
            'Cause.$': `States.Format('change set ${changeSet} of ${stackName} ended {}: {}', ${base}.changeSet.status, States.JsonToString(${base}.changeSet.all))`,
          },
          resultPath: '$.failure',
          next: ctx.catchTo,
        }),
      );
      break;
    }
    case 'CHANGE_SET_EXECUTE': {
      const changeSet = action.changeSetName ?? '';
      step(
        first,
        call('describeChangeSet', { StackName: stackName, ChangeSetName: changeSet }, n('executable?'), {
          resultSelector: { 'status.$': '$.Status', 'all.$': '$' },
          resultPath: `${base}.changeSet`,
        }),
      );
      // A change set without changes is a success with nothing to execute, as in CodePipeline.
      step(n('executable?'), choice(statusIs(['FAILED'], n('no changes?'), `${base}.changeSet.status`), n('execute')));
      noChanges(n('no changes?'), n('outputs'), n('execute'));
      step(n('outputs'), describeStack(done));
      const loop = stackLoop('stack', done, { successStatuses: STACK_DONE });
      step(n('execute'), call('executeChangeSet', { StackName: stackName, ChangeSetName: changeSet }, loop));
      break;
    }
  }
}

/** On one machine an action with `local.command` runs that command instead of deploying to AWS. */
function compileLocalCommand(ctx: ActionContext, command: string): void {
  const payload: JsonObject = { ...actionIdentity(ctx), 'variables.$': '$.variables' };
  ctx.refs.assign(payload, 'command', command);
  addFunctionActionState(ctx, LOCAL_COMMAND_FUNCTION, payload, { timeoutSeconds: 60 * 60 });
}
