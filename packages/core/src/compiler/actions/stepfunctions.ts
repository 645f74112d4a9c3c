import { artifactPrefix } from '../../artifacts';
import { ErrorName } from '../../errors';
import type { StepFunctionsAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { Resource, Timeout } from '../integrations';
import { actionResultPath, escapeLiteral } from '../references';
import { type JsonObject, pass, task } from '../states';
import { addState, catchAll } from './common';

/** Stands for the state machine on one machine, where the action runs its local ASL file instead. */
export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:stepline-local';

/** The Task that reads a FilePath input before the start. */
export const readInputStateName = (actionState: string) => `${actionState} · read input`;

/** The Pass that names a FilePath input missing from its artifact, as the local read does. */
export const inputMissingStateName = (actionState: string) => `${actionState} · input missing`;

/** The FilePath input's path within its artifact. */
export const inputFilePath = (action: Pick<StepFunctionsAction, 'input'>) => (action.input ?? '').replace(/^\/+/, '');

/** Why a FilePath input cannot be read, in the same words on both runtimes. */
export const inputFileMissing = (action: Pick<StepFunctionsAction, 'name'>, path: string, artifact: string) =>
  `action ${action.name}: input file ${path} is not in artifact ${artifact}`;

/** Where the FilePath input is kept between the read and the start. */
const inputPath = (key: string) => `$.actions.${key}Input`;

/**
 * A Step Functions action is one Task, `states:startExecution.sync:2`: it starts the state machine,
 * waits for its end and keeps its output. The execution is named `<prefix>-<uuid>` (a uuid alone
 * without a prefix), as CodePipeline names it from the action execution id. With inputType FilePath
 * a first Task reads the JSON file from the input artifact in S3 (`s3:getObject`), and its body is
 * the input. On one machine the same states are bound to local handlers (the artifact file on disk,
 * the local ASL file run in the local engine).
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html
 */
export function compileStepFunctions(ctx: ActionContext, action: StepFunctionsAction): string {
  const { target, region, accountId, artifactBucket } = ctx.options;
  if (target === 'aws' && action.stateMachineArn === undefined)
    ctx.warnings.push({ path: `${ctx.position.path}.stateMachineArn`, message: 'a stepfunctions action needs a stateMachineArn to run on AWS' });
  if (target === 'local' && action.local === undefined)
    ctx.warnings.push({ path: `${ctx.position.path}.local.definition`, message: 'a stepfunctions action needs a local ASL definition to run on one machine' });

  const stateMachineArn = action.stateMachineArn ?? LOCAL_STATE_MACHINE_ARN;
  if (action.stateMachineArn !== undefined) {
    const partition = action.stateMachineArn.split(':')[1] ?? 'aws';
    const executions = `${action.stateMachineArn.replace(':stateMachine:', ':execution:')}:*`;
    ctx.iam.push({ Effect: 'Allow', Action: ['states:StartExecution'], Resource: [action.stateMachineArn] });
    ctx.iam.push({ Effect: 'Allow', Action: ['states:DescribeExecution', 'states:StopExecution'], Resource: [executions] });
    ctx.iam.push({
      Effect: 'Allow',
      Action: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
      Resource: [`arn:${partition}:events:${region}:${accountId}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`],
    });
  }

  const parameters: JsonObject = {
    StateMachineArn: stateMachineArn,
    'Name.$': action.executionNamePrefix === undefined ? 'States.UUID()' : `States.Format('${escapeLiteral(action.executionNamePrefix)}-{}', States.UUID())`,
  };
  const timeoutSeconds = (action.timeoutMinutes ?? Timeout.stepFunctionsMinutes) * 60;
  let first = ctx.name;
  if (action.inputType === 'FilePath') {
    const artifact = action.inputArtifacts[0] ?? '';
    const path = inputFilePath(action);
    const [before, after] = artifactPrefix(ctx.pipeline.name, '\u0000', artifact).split('\u0000');
    first = readInputStateName(ctx.name);
    const missing = inputMissingStateName(ctx.name);
    // ListBucket on the bucket: without it S3 answers a missing key with 403, not NoSuchKey, and the
    // action would fail as "Access Denied" instead of naming the file (see stacks/iam.ts, listBucket).
    ctx.iam.push({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${artifactBucket}/${ctx.pipeline.name}/*`] });
    ctx.iam.push({ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${artifactBucket}`] });
    addState(
      ctx,
      missing,
      pass({
        parameters: { Error: ErrorName.ActionFailed, Cause: inputFileMissing(action, path, artifact) },
        resultPath: '$.failure',
        next: ctx.catchTo,
      }),
      { role: 'step' },
    );
    addState(
      ctx,
      first,
      task({
        resource: Resource.S3GetObject,
        parameters: {
          Bucket: artifactBucket,
          'Key.$': `States.Format('${escapeLiteral(before ?? '')}{}${escapeLiteral(`${after ?? ''}${path}`)}', $$.Execution.Name)`,
        },
        resultSelector: { 'Body.$': '$.Body' },
        resultPath: inputPath(ctx.key),
        timeoutSeconds: Timeout.readInputMinutes * 60,
        // Step Functions names an SDK integration's error `<Service>.<Error>Exception`.
        catch: [{ ErrorEquals: ['S3.NoSuchKeyException'], ResultPath: '$.failure', Next: missing }, ...catchAll(ctx.catchTo)],
        next: ctx.name,
      }),
      { role: 'action' },
    );
    parameters['Input.$'] = `States.StringToJson(${inputPath(ctx.key)}.Body)`;
  } else if (action.input?.includes('#{')) {
    ctx.refs.assign(parameters, 'Input', action.input);
  } else {
    parameters.Input = JSON.parse(action.input ?? '{}');
  }

  addState(
    ctx,
    ctx.name,
    task({
      resource: Resource.StepFunctionsStartSync,
      parameters,
      resultSelector: { variables: { 'ExecutionArn.$': '$.ExecutionArn', 'StateMachineArn.$': '$.StateMachineArn' }, 'output.$': '$.Output' },
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds,
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: first === ctx.name ? 'action' : 'step', final: true },
  );
  return first;
}
