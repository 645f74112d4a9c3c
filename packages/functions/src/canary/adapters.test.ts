import {
  type Action,
  DescribeListenersCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type CanaryRequest, compilePipeline, ErrorName, parseCanaryRequest, parsePipeline, type TaskState } from '@stepline/core';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AlbRouter, greenShare, withWeights } from './alb';
import { LambdaHooks } from './hooks';
import { isTransientAwsError } from './retry';

const BLUE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/1';
const GREEN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2';
const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/3/4';
const roles = { blueTargetGroup: BLUE, greenTargetGroup: GREEN };
const noWait = { sleep: async () => undefined };

/** A Lambda answer's payload, as the SDK hands it over. */
const blob = (text: string) => Object.assign(new TextEncoder().encode(text), { transformToString: () => text });

const throttling = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } });

/** A listener whose default action ModifyListener really changes, as the ALB does. */
function fakeListener(elb: AwsClientStub<ElasticLoadBalancingV2Client>) {
  let actions: Action[] = [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: BLUE, Weight: 100 },
          { TargetGroupArn: GREEN, Weight: 0 },
        ],
      },
    },
  ];
  elb.on(DescribeListenersCommand).callsFake(() => ({ Listeners: [{ ListenerArn: LISTENER, DefaultActions: actions }] }));
  return {
    modify: (input: { DefaultActions?: Action[] }) => {
      actions = input.DefaultActions ?? [];
      return {};
    },
    actions: () => actions,
  };
}

describe('the ALB router', () => {
  const elb = mockClient(ElasticLoadBalancingV2Client);
  afterEach(() => elb.reset());
  const router = (retry = noWait) =>
    new AlbRouter({
      elb: new ElasticLoadBalancingV2Client({}),
      target: { listenerArn: LISTENER, ruleArn: undefined, testListenerArn: undefined },
      roles: async () => roles,
      retry,
    });

  it('retries ModifyListener when it is throttled, and the weight then reads back', async () => {
    // Prepare
    const listener = fakeListener(elb);
    elb.on(ModifyListenerCommand).rejectsOnce(throttling()).callsFake(listener.modify);
    // Act
    await router().setWeight('production', 10);
    // Assess
    expect(elb).toHaveReceivedCommandTimes(ModifyListenerCommand, 2);
    expect(elb).toHaveReceivedCommandWith(ModifyListenerCommand, {
      ListenerArn: LISTENER,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: BLUE, Weight: 90 },
              { TargetGroupArn: GREEN, Weight: 10 },
            ],
          },
        },
      ],
    });
    await expect(router().verifyWeight('production', 10)).resolves.toStrictEqual({ verified: true, detail: 'the listener forwards blue 90 / green 10' });
  });

  it('hands a throttling that outlasts its retries to the state machine as Stepline.Transient', async () => {
    fakeListener(elb);
    elb.on(ModifyListenerCommand).rejects(throttling());
    await expect(router({ ...noWait }).setWeight('production', 50)).rejects.toMatchObject({
      name: ErrorName.Transient,
      retryable: true,
      message: 'ModifyListener was still refused after 4 attempts (Throttling: Rate exceeded)',
    });
    expect(elb).toHaveReceivedCommandTimes(ModifyListenerCommand, 4);
  });

  it('does not retry what is not transient', async () => {
    fakeListener(elb);
    elb.on(ModifyListenerCommand).rejects(Object.assign(new Error('no such target group'), { name: 'TargetGroupNotFoundException', $fault: 'client' }));
    await expect(router().setWeight('production', 50)).rejects.toMatchObject({ name: 'TargetGroupNotFoundException' });
    expect(elb).toHaveReceivedCommandTimes(ModifyListenerCommand, 1);
  });

  it('moves a rule instead of the listener when a rule is configured', async () => {
    const rule = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/3/4/5';
    elb.on(ModifyRuleCommand).resolves({});
    elb.on(DescribeListenersCommand).rejects(new Error('the listener is not read'));
    elb.on(DescribeRulesCommand).resolves({ Rules: [{ RuleArn: rule, Actions: [{ Type: 'forward', TargetGroupArn: BLUE }] }] });
    const r = new AlbRouter({
      elb: new ElasticLoadBalancingV2Client({}),
      target: { listenerArn: LISTENER, ruleArn: rule, testListenerArn: undefined },
      roles: async () => roles,
      retry: noWait,
    });
    await r.setWeight('production', 25);
    expect(elb).toHaveReceivedCommandWith(ModifyRuleCommand, {
      RuleArn: rule,
      Actions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: BLUE, Weight: 75 },
              { TargetGroupArn: GREEN, Weight: 25 },
            ],
          },
        },
      ],
    });
  });

  it('keeps other actions and stickiness when it rewrites the forward action', () => {
    const actions: Action[] = [
      {
        Type: 'authenticate-oidc',
        Order: 1,
        AuthenticateOidcConfig: { Issuer: 'i', AuthorizationEndpoint: 'a', TokenEndpoint: 't', UserInfoEndpoint: 'u', ClientId: 'c' },
      },
      {
        Type: 'forward',
        Order: 2,
        ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 } },
      },
    ];
    expect(withWeights(actions, roles, 30)).toStrictEqual([
      actions[0],
      {
        Type: 'forward',
        Order: 2,
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: BLUE, Weight: 70 },
            { TargetGroupArn: GREEN, Weight: 30 },
          ],
          TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
        },
      },
    ]);
    expect(greenShare([{ Type: 'forward', TargetGroupArn: BLUE }], roles)).toStrictEqual({ share: 0, detail: 'forwards blue 1 / green 0' });
  });
});

describe('the compiled deploy action', () => {
  it('retries Stepline.Transient on every canary Task, so a long throttling waits rather than rolls back', () => {
    const pipeline = parsePipeline({
      name: 'web',
      stages: [
        { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Build'] }] },
        { name: 'Deploy', actions: [{ name: 'Canary', kind: 'deploy', inputArtifacts: ['Build'], local: { command: 'node app.js' } }] },
      ],
    });
    const { States } = compilePipeline(pipeline).definition;
    const map = States['Deploy · Canary'];
    if (map?.Type !== 'Map') throw new Error('expected the Map');
    const tasks = [
      map.ItemProcessor.States['Deploy · Canary · run step'],
      States['Deploy · Canary · cleanup'],
      States['Deploy · Canary · rollback'],
    ] as TaskState[];
    for (const task of tasks) expect(task.Retry?.[0]?.ErrorEquals).toContain(ErrorName.Transient);
  });
});

describe('transient AWS errors', () => {
  it('are throttling and server faults, not client mistakes', () => {
    expect(isTransientAwsError(throttling())).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error('x'), { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error('x'), { name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 } }))).toBe(false);
  });
});

describe('Lambda hooks', () => {
  const lambda = mockClient(LambdaClient);
  afterEach(() => lambda.reset());
  const request = (hooks: Record<string, unknown>): CanaryRequest =>
    parseCanaryRequest({
      pipeline: 'web',
      stage: 'Deploy',
      action: 'Canary',
      executionId: 'exec-1',
      operation: 'hook',
      step: { type: 'hook', hook: 'BeforeAllowTraffic' },
      deployment: { alarms: [], hooks, terminationWaitMinutes: 5, ecs: { cluster: 'prod', service: 'web', testListenerArn: 'test-listener' } },
      inputArtifact: { name: 'Build', location: 'bucket/web/exec-1/Build/' },
    });
  const encode = (v: unknown) => blob(JSON.stringify(v));
  const green = { id: 'arn:green', description: 'green' };

  it('invoke the function with the deployment, and fail on a function error', async () => {
    lambda
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: encode({ errorType: 'Error', errorMessage: 'GET /health answered 503' }) });
    const hooks = new LambdaHooks(new LambdaClient({}), request({ BeforeAllowTraffic: 'validate-health' }), 'dep-1', noWait);
    await expect(hooks.run({ hook: 'BeforeAllowTraffic', blue: undefined, green })).resolves.toStrictEqual({
      succeeded: false,
      detail: 'validate-health failed: GET /health answered 503',
    });
    const sent = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({ FunctionName: 'validate-health', InvocationType: 'RequestResponse' });
    expect(JSON.parse(new TextDecoder().decode(sent?.Payload as Uint8Array))).toStrictEqual({
      DeploymentId: 'dep-1',
      LifecycleEventHookExecutionId: 'dep-1-BeforeAllowTraffic',
      hook: 'BeforeAllowTraffic',
      pipeline: 'web',
      stage: 'Deploy',
      action: 'Canary',
      executionId: 'exec-1',
      deploymentId: 'dep-1',
      cluster: 'prod',
      service: 'web',
      greenTaskSetArn: 'arn:green',
      testListenerArn: 'test-listener',
    });
  });

  it('fail when the function answers status Failed, as CodeDeploy’s hook status', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ status: 'Failed' }) });
    const hooks = new LambdaHooks(new LambdaClient({}), request({ BeforeAllowTraffic: { function: 'check' } }), 'dep-1', noWait);
    await expect(hooks.run({ hook: 'BeforeAllowTraffic', blue: undefined, green })).resolves.toMatchObject({
      succeeded: false,
      detail: 'check answered {"status":"Failed"}',
    });
  });

  it('fail, rather than skip, a hook that has only a local command', async () => {
    const hooks = new LambdaHooks(new LambdaClient({}), request({ BeforeAllowTraffic: { command: './check.sh' } }), 'dep-1', noWait);
    await expect(hooks.run({ hook: 'BeforeAllowTraffic', blue: undefined, green })).resolves.toMatchObject({ succeeded: false });
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });
});
