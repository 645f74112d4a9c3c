/**
 * The Lambda alias ports where moto_server does not model Lambda (test/canary-lambda-aws.test.ts covers
 * the rest): a version that stays Pending, an alias changed by someone else between read and write
 * (RevisionId), and the hook event a Lambda deployment's hook receives.
 */
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { type CanaryRequest, ErrorName, parseCanaryRequest } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { deploymentId } from './deployment';
import { LambdaHooks } from './hooks';
import { LambdaAliasEnvironment, LambdaAliasRouter, withLambdaAppSpec } from './lambda-alias';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

const request = (target: Record<string, string> = {}): CanaryRequest =>
  parseCanaryRequest({
    pipeline: 'orders',
    stage: 'Deploy',
    action: 'Shift',
    executionId: 'exec-1',
    operation: 'prepare',
    deployment: {
      alarms: [],
      hooks: { AfterAllowTraffic: 'orders-smoke' },
      terminationWaitMinutes: 0,
      lambda: { functionName: 'orders', alias: 'live', ...target },
    },
    inputArtifact: { name: 'Src', location: 'bucket/orders/exec-1/Src/' },
  });
const ID = deploymentId({ pipeline: 'orders', stage: 'Deploy', action: 'Shift', executionId: 'exec-1' });
const environment = (r = request(), now = { t: 0 }) =>
  new LambdaAliasEnvironment({
    lambda: new LambdaClient({}),
    request: r,
    deadline: () => Date.now() + 10_000,
    healthPollMs: 1_000,
    sleep: async (ms) => {
      now.t += ms;
    },
    retry: { sleep: async () => undefined },
  });

describe('a Lambda alias as the deployment environment', () => {
  it('waits while the new version is Pending, and is healthy once it is Active', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', Description: `stepline:${ID} blue=3 green=4` });
    lambda
      .on(GetFunctionConfigurationCommand, { FunctionName: 'orders', Qualifier: '4' })
      .resolvesOnce({ State: 'Pending', StateReason: 'The function is being created.' })
      .resolves({ State: 'Active' });
    await expect(environment().checkGreenHealth()).resolves.toStrictEqual({ healthy: true, detail: 'version 4 is Active' });
    expect(lambda).toHaveReceivedCommandTimes(GetFunctionConfigurationCommand, 2);
  });

  it('reports a version that failed to become Active', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', Description: `stepline:${ID} blue=3 green=4` });
    lambda.on(GetFunctionConfigurationCommand).resolves({ State: 'Failed', StateReason: 'EFS mount failed' });
    await expect(environment().checkGreenHealth()).resolves.toStrictEqual({ healthy: false, detail: 'version 4 is Failed (EFS mount failed)' });
  });

  it('marks the alias only if nobody changed it since it was read (RevisionId), and lets the step run again if someone did', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', RevisionId: 'rev-1' });
    lambda.on(PublishVersionCommand).resolves({ Version: '4' });
    lambda.on(UpdateAliasCommand).rejects(Object.assign(new Error('The RevisionId provided does not match'), { name: 'PreconditionFailedException' }));
    await expect(environment().createGreen()).rejects.toMatchObject({ name: ErrorName.Transient });
    expect(lambda).toHaveReceivedCommandWith(UpdateAliasCommand, {
      FunctionName: 'orders',
      Name: 'live',
      RevisionId: 'rev-1',
      Description: `stepline:${ID} blue=3 green=4`,
    });
  });

  it('refuses an alias another deployment is shifting, a currentVersion the alias is not on, and a target that is live already', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: { '5': 0.2 } } });
    await expect(environment().createGreen()).rejects.toThrow(
      'alias live of orders is already splitting traffic (20% to version 5): another deployment is shifting it',
    );
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3' });
    await expect(environment(request({ currentVersion: '2' })).createGreen()).rejects.toThrow('alias live points to version 3, not to lambda.currentVersion 2');
    await expect(environment(request({ targetVersion: '3' })).createGreen()).rejects.toThrow('alias live points to version 3 already: nothing to shift');
    expect(lambda).not.toHaveReceivedCommand(UpdateAliasCommand);
  });

  it('shifts weights, points the alias and drops the marker only on the revision it read', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', RevisionId: 'rev-7', Description: `stepline:${ID} blue=3 green=4` });
    lambda.on(UpdateAliasCommand).rejects(Object.assign(new Error('The RevisionId provided does not match'), { name: 'PreconditionFailedException' }));
    const env = environment();
    await expect(new LambdaAliasRouter(env).setWeight('production', 10)).rejects.toMatchObject({ name: ErrorName.Transient });
    await expect(env.setPrimary('green')).rejects.toMatchObject({ name: ErrorName.Transient });
    await expect(env.remove('blue')).rejects.toMatchObject({ name: ErrorName.Transient });
    expect(lambda.commandCalls(UpdateAliasCommand).map((c) => c.args[0].input.RevisionId)).toStrictEqual(['rev-7', 'rev-7', 'rev-7']);
  });

  it('routes by AdditionalVersionWeights between 0% and 100%, and points the alias at one version at either end', async () => {
    const alias = { FunctionVersion: '3', Description: `stepline:${ID} blue=3 green=4` };
    lambda.on(GetAliasCommand).resolves(alias);
    const router = new LambdaAliasRouter(environment());
    await router.setWeight('production', 10);
    await router.setWeight('production', 100);
    await router.setWeight('production', 0);
    expect(
      lambda.commandCalls(UpdateAliasCommand).map((c) => [c.args[0].input.FunctionVersion, c.args[0].input.RoutingConfig?.AdditionalVersionWeights]),
    ).toStrictEqual([
      ['3', { '4': 0.1 }],
      ['4', {}],
      ['3', {}],
    ]);
    lambda.on(GetAliasCommand).resolves({ ...alias, FunctionVersion: '4', RoutingConfig: { AdditionalVersionWeights: { '3': 0.25 } } });
    await expect(router.verifyWeight('production', 75)).resolves.toStrictEqual({
      verified: true,
      detail: 'alias live: the alias points to version 4 with 25% to version 3',
    });
  });
});

describe('a Lambda deployment’s hooks', () => {
  it('receive CodeDeploy’s DeploymentId and LifecycleEventHookExecutionId, with the function, alias and versions', async () => {
    const text = '{"status":"Succeeded"}';
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Object.assign(new TextEncoder().encode(text), { transformToString: () => text }) });
    const hooks = new LambdaHooks(new LambdaClient({}), request(), ID, { sleep: async () => undefined });
    const outcome = await hooks.run({ hook: 'AfterAllowTraffic', blue: { id: '3', description: '' }, green: { id: '4', description: '' } });
    expect(outcome).toStrictEqual({ succeeded: true, detail: 'orders-smoke succeeded' });
    const sent = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    const event = JSON.parse(new TextDecoder().decode(sent?.Payload as Uint8Array));
    expect(event).not.toHaveProperty('blueTaskSetArn');
    expect(event).toMatchObject({
      DeploymentId: ID,
      LifecycleEventHookExecutionId: `${ID}-AfterAllowTraffic`,
      hook: 'AfterAllowTraffic',
      lambda: { functionName: 'orders', alias: 'live', currentVersion: '3', targetVersion: '4' },
    });
  });

  it('pass, invoking nothing, when neither the appspec nor the definition names one (its step exists for an appspec read at run time)', async () => {
    const hooks = new LambdaHooks(new LambdaClient({}), request(), ID, { sleep: async () => undefined });
    const outcome = await hooks.run({ hook: 'BeforeAllowTraffic', blue: { id: '3', description: '' }, green: { id: '4', description: '' } });
    expect(outcome).toStrictEqual({ succeeded: true, detail: 'no BeforeAllowTraffic hook: neither the appspec nor the definition names one' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe('a Lambda deployment’s appspec', () => {
  const artifact = (files: Record<string, string>) => ({
    name: 'Src',
    has: async (path: string) => path in files,
    read: async (path: string) => files[path] ?? '',
  });
  const appspec = (hooks: string) =>
    `version: 0.0\nResources:\n  - fn: { Type: AWS::Lambda::Function, Properties: { Name: orders, Alias: live, TargetVersion: 4 } }\n${hooks}`;
  const withoutTarget = () => {
    const r = request();
    return { ...r, deployment: { ...r.deployment, lambda: {} } };
  };

  it('fills in what the definition leaves out, its hooks beside the definition’s', async () => {
    const resolved = await withLambdaAppSpec(
      withoutTarget(),
      artifact({ 'appspec.yml': appspec('Hooks: [{ BeforeAllowTraffic: orders-pre }, { AfterAllowTraffic: orders-smoke }]') }),
    );
    expect(resolved.deployment.lambda).toStrictEqual({ functionName: 'orders', alias: 'live', targetVersion: '4' });
    expect(resolved.deployment.hooks).toStrictEqual({ BeforeAllowTraffic: 'orders-pre', AfterAllowTraffic: 'orders-smoke' });
  });

  it('is refused when it names another function for a hook the definition gives, or is missing', async () => {
    const r = withoutTarget();
    const named = { ...r, deployment: { ...r.deployment, hooks: { BeforeAllowTraffic: { function: 'orders-check' } } } };
    await expect(withLambdaAppSpec(named, artifact({ 'appspec.yaml': appspec('Hooks: [{ BeforeAllowTraffic: orders-pre }]') }))).rejects.toThrow(
      "appspec.yaml names orders-pre as the BeforeAllowTraffic hook, but the deploy action's hooks.BeforeAllowTraffic runs orders-check: name one function in either place",
    );
    await expect(withLambdaAppSpec(withoutTarget(), artifact({}))).rejects.toMatchObject({
      name: ErrorName.ArtifactInvalid,
      message: 'set lambda.functionName and lambda.alias, or put appspec.yaml, appspec.yml, appspec.json in the input artifact (searched Src)',
    });
  });
});
