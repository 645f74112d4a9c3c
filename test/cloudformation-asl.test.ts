/**
 * The CloudFormation action's wait loop, as AWS would run it: the compiled machine executed by
 * aws-local-stepfunctions, each CloudFormation SDK call answered by a stub with what CloudFormation
 * answers (statuses in progress, complete, failed, rolled back, and "no updates").
 */
import { compilePipeline, type ExecutionInput, parsePipelineText, validateStateMachine } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { runStubbed } from './helpers/stub-handlers';

const input: ExecutionInput = { pipeline: 'infra', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };

const definition = (deploy: string, after: boolean) => `
name: infra
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/infra, outputArtifacts: [Src] }]
  - name: Deploy
    actions:
      - { name: Stack, kind: cloudformation, namespace: StackOut, inputArtifacts: [Src], stackName: web, ${deploy} }
${after ? '  - name: After\n    actions: [{ name: Use, kind: invoke, function: f, userParameters: "#{StackOut.Url}" }]\n' : ''}`;

/** An error as the SDK integration raises it: the Task fails with CloudFormation's message as the cause. */
const refused = (message: string) => () => {
  throw Object.assign(new Error(message), { name: 'CloudFormation.CloudFormationException' });
};
/** Answers in turn; the last one repeats. */
const sequence = (...answers: Array<() => unknown>) => {
  let i = 0;
  return () => (answers[Math.min(i++, answers.length - 1)] as () => unknown)();
};
const stack = (status: string, outputs?: Array<{ OutputKey: string; OutputValue: string }>) => () => ({
  Stacks: [{ StackName: 'web', StackStatus: status, ...(outputs && { Outputs: outputs }) }],
});

/** What the cloudformation function answers to prepare (its own tests: cloudformation-moto.test.ts, core's cloudformation-input). */
const PREPARED = {
  StackName: 'web',
  TemplateURL: 'https://stepline-artifacts.s3.us-east-1.amazonaws.com/infra/exec-1/Src/stack.yml',
  Parameters: [{ ParameterKey: 'Env', ParameterValue: 'prod' }],
  Capabilities: ['CAPABILITY_IAM'],
};
const prepared = () => ({ Payload: { stack: PREPARED, changeSet: { ...PREPARED, ChangeSetName: 'web-cs' } } });

async function run(deploy: string, stubs: Record<string, (input: unknown) => unknown>, after = false) {
  const overrides = { 'Deploy · Stack · prepare': prepared, ...stubs };
  const compiled = compilePipeline(parsePipelineText(definition(deploy, after)), { target: 'aws' });
  expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
  const { outcome, calls } = await runStubbed(compiled, overrides, input);
  // The stack's steps, by their names under the action (`look`, `create`, `stack status`, …).
  const steps = calls.map((c) => c.state).filter((s) => s.startsWith('Deploy · Stack · ') && s !== 'Deploy · Stack · prepare');
  return { outcome, calls: steps.map((s) => s.slice('Deploy · Stack · '.length)), inputs: calls };
}

const CREATE_UPDATE = 'actionMode: CREATE_UPDATE, templatePath: "Src::stack.yml", parameterOverrides: { Env: prod }, capabilities: [CAPABILITY_IAM]';

describe('CloudFormation action, CREATE_UPDATE', () => {
  it('creates a missing stack, waits while it is in progress, and passes its outputs on as variables', async () => {
    const { outcome, calls, inputs } = await run(
      CREATE_UPDATE,
      {
        'Deploy · Stack · look': refused('Stack with id web does not exist'),
        'Deploy · Stack · stack status': sequence(
          stack('CREATE_IN_PROGRESS'),
          stack('CREATE_IN_PROGRESS'),
          stack('CREATE_COMPLETE', [{ OutputKey: 'Url', OutputValue: 'https://web' }]),
        ),
      },
      true,
    );
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls).toStrictEqual(['look', 'create', 'stack status', 'stack status', 'stack status']);
    // The function gets the action's fields and the artifacts' locations; the stack is created with exactly what it answered.
    expect(inputs.find((c) => c.state === 'Deploy · Stack · prepare')?.input).toMatchObject({
      Payload: {
        operation: 'prepare',
        deploy: {
          stackName: 'web',
          templatePath: 'Src::stack.yml',
          parameterOverrides: { Env: 'prod' },
          capabilities: ['CAPABILITY_IAM'],
          inputArtifacts: ['Src'],
        },
        inputArtifacts: [{ name: 'Src', location: 'stepline-artifacts/infra/exec-1/Src/' }],
      },
    });
    expect(inputs.find((c) => c.state === 'Deploy · Stack · create')?.input).toStrictEqual(PREPARED);
    expect(inputs.map((c) => c.state)).toContain('After · Use');
    expect(inputs.find((c) => c.state === 'After · Use')?.input).toMatchObject({ Payload: { userParameters: 'https://web' } });
  });

  it('counts an update with no changes as a success', async () => {
    const { outcome, calls } = await run(
      CREATE_UPDATE,
      {
        'Deploy · Stack · look': stack('UPDATE_COMPLETE', [{ OutputKey: 'Url', OutputValue: 'https://same' }]),
        'Deploy · Stack · update': refused('No updates are to be performed.'),
      },
      true,
    );
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls).toStrictEqual(['look', 'update']);
  });

  it('fails naming the status when the update rolls back', async () => {
    const { outcome } = await run(CREATE_UPDATE, {
      'Deploy · Stack · look': stack('CREATE_COMPLETE'),
      'Deploy · Stack · stack status': sequence(stack('UPDATE_IN_PROGRESS'), stack('UPDATE_ROLLBACK_IN_PROGRESS'), stack('UPDATE_ROLLBACK_COMPLETE')),
    });
    expect(outcome).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.ActionFailed',
      cause: 'Stage Deploy, action Stack failed: stack web ended UPDATE_ROLLBACK_COMPLETE',
    });
  });

  it('fails when the creation fails, and when CloudFormation refuses the call', async () => {
    const failedCreate = await run(CREATE_UPDATE, {
      'Deploy · Stack · look': refused('Stack with id web does not exist'),
      'Deploy · Stack · stack status': sequence(stack('CREATE_IN_PROGRESS'), stack('CREATE_FAILED')),
    });
    expect(failedCreate.outcome).toMatchObject({ status: 'FAILED', cause: 'Stage Deploy, action Stack failed: stack web ended CREATE_FAILED' });
    const refusedUpdate = await run(CREATE_UPDATE, {
      'Deploy · Stack · look': stack('CREATE_COMPLETE'),
      'Deploy · Stack · update': refused('Template format error: unsupported structure.'),
    });
    expect(refusedUpdate.outcome).toMatchObject({ status: 'FAILED', error: 'CloudFormation.CloudFormationException' });
    const rolledBack = await run(CREATE_UPDATE, { 'Deploy · Stack · look': stack('ROLLBACK_COMPLETE') });
    expect(rolledBack.outcome).toMatchObject({ status: 'FAILED', cause: 'Stage Deploy, action Stack failed: stack web ended ROLLBACK_COMPLETE' });
  });
});

describe('CloudFormation action, other modes', () => {
  it('REPLACE_ON_FAILURE deletes a stack that failed its creation, waits until it is gone, then creates it', async () => {
    const { outcome, calls } = await run('actionMode: REPLACE_ON_FAILURE, templatePath: "Src::stack.yml"', {
      'Deploy · Stack · look': stack('ROLLBACK_COMPLETE'),
      'Deploy · Stack · delete status': sequence(stack('DELETE_IN_PROGRESS'), refused('Stack with id web does not exist')),
      'Deploy · Stack · stack status': stack('CREATE_COMPLETE'),
    });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls).toStrictEqual(['look', 'delete', 'delete status', 'delete status', 'create', 'stack status']);
  });

  it('DELETE_ONLY succeeds at once for a stack that does not exist, and waits for one that does', async () => {
    const missing = await run('actionMode: DELETE_ONLY', { 'Deploy · Stack · look': refused('Stack with id web does not exist') });
    expect(missing.outcome.status).toBe('SUCCEEDED');
    expect(missing.calls).toStrictEqual(['look']);
    const present = await run('actionMode: DELETE_ONLY', {
      'Deploy · Stack · look': stack('UPDATE_COMPLETE'),
      'Deploy · Stack · delete status': sequence(stack('DELETE_IN_PROGRESS'), stack('DELETE_FAILED')),
    });
    expect(present.outcome).toMatchObject({ status: 'FAILED', cause: 'Stage Deploy, action Stack failed: stack web ended DELETE_FAILED' });
  });

  it('CHANGE_SET_REPLACE creates an UPDATE change set and counts an empty one as a success', async () => {
    const { outcome, inputs } = await run('actionMode: CHANGE_SET_REPLACE, changeSetName: web-cs, templatePath: "Src::stack.yml"', {
      'Deploy · Stack · look': stack('UPDATE_COMPLETE'),
      'Deploy · Stack · drop old': refused('ChangeSet [web-cs] does not exist'),
      'Deploy · Stack · change set status': sequence(
        () => ({ Status: 'CREATE_IN_PROGRESS' }),
        () => ({ Status: 'FAILED', StatusReason: "The submitted information didn't contain changes. Submit different information to create a change set." }),
      ),
    });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(inputs.find((c) => c.state === 'Deploy · Stack · create change set')?.input).toStrictEqual({
      ...PREPARED,
      ChangeSetName: 'web-cs',
      ChangeSetType: 'UPDATE',
    });
  });

  it('CHANGE_SET_REPLACE fails on a change set CloudFormation could not create', async () => {
    const { outcome } = await run('actionMode: CHANGE_SET_REPLACE, changeSetName: web-cs, templatePath: "Src::stack.yml"', {
      'Deploy · Stack · look': refused('Stack with id web does not exist'),
      'Deploy · Stack · change set status': () => ({ Status: 'FAILED', StatusReason: 'Template error: unresolved resource' }),
    });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'Stepline.ActionFailed' });
    expect((outcome as { cause: string }).cause).toContain('change set web-cs of web ended FAILED');
  });

  it('CHANGE_SET_EXECUTE executes and waits, or succeeds without executing an empty change set', async () => {
    const executed = await run('actionMode: CHANGE_SET_EXECUTE, changeSetName: web-cs', {
      'Deploy · Stack · look': () => ({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE' }),
      'Deploy · Stack · stack status': sequence(stack('UPDATE_IN_PROGRESS'), stack('UPDATE_COMPLETE', [{ OutputKey: 'Url', OutputValue: 'https://new' }])),
    });
    expect(executed.outcome.status).toBe('SUCCEEDED');
    expect(executed.calls).toContain('execute');
    const empty = await run('actionMode: CHANGE_SET_EXECUTE, changeSetName: web-cs', {
      'Deploy · Stack · look': () => ({ Status: 'FAILED', StatusReason: "The submitted information didn't contain changes." }),
      'Deploy · Stack · outputs': stack('UPDATE_COMPLETE', [{ OutputKey: 'Url', OutputValue: 'https://same' }]),
    });
    expect(empty.outcome.status).toBe('SUCCEEDED');
    expect(empty.calls).not.toContain('execute');
  });
});
