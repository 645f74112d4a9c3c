import { describe, expect, it } from 'vitest';
import { dispatchGateEvent, GateEventInvalidError, pipelineOf } from './events';
import { MemoryGateStore } from './memory-store';
import type { TaskResponder } from './responder';
import { GateService } from './service';

const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:stepline-team-web';

function setup() {
  const answers: string[] = [];
  const responder: TaskResponder = {
    deliver: async (effect) => {
      answers.push(`${effect.type} ${effect.executionId} ${effect.stage}`);
      return 'answered';
    },
  };
  const service = new GateService({ store: new MemoryGateStore(), responder, sleep: async () => undefined, warn: () => undefined });
  return { answers, options: { service, stateMachinePrefix: 'stepline-team-' } };
}

const statusChange = (name: string, status: string, extra: Record<string, unknown> = {}) => ({
  version: '0',
  source: 'aws.states',
  'detail-type': 'Step Functions Execution Status Change',
  detail: { executionArn: `${arn.replace(':stateMachine:', ':execution:')}:${name}`, stateMachineArn: arn, name, status, ...extra },
});

describe('dispatchGateEvent', () => {
  it('answers a stage entry, and lets the next queued execution in when the first one ends', async () => {
    const { answers, options } = setup();
    const entry = { pipeline: 'web', stage: 'Source', executionMode: 'QUEUED', firstStage: true };
    await dispatchGateEvent({ ...entry, taskToken: 't1', executionId: 'a' }, options);
    const held = await dispatchGateEvent({ ...entry, taskToken: 't2', executionId: 'b' }, options);
    expect(held.held).toStrictEqual([{ stage: 'Source', executionId: 'b', since: expect.any(String), reason: 'queued behind a running execution' }]);

    await dispatchGateEvent(
      statusChange('a', 'SUCCEEDED', { input: JSON.stringify({ pipeline: 'web', trigger: { type: 'Webhook' }, source: {}, variables: {} }) }),
      options,
    );
    expect(answers).toStrictEqual(['proceed a Source', 'proceed b Source']);
  });

  it('ignores non-terminal statuses; a failed execution redriven is let in again', async () => {
    const { answers, options } = setup();
    const entry = { pipeline: 'web', stage: 'Build', executionMode: 'PARALLEL', firstStage: false, taskToken: 't' };
    await dispatchGateEvent(statusChange('a', 'FAILED'), options);
    expect(await dispatchGateEvent(statusChange('a', 'RUNNING', { redriveCount: 1 }), options)).toMatchObject({ ignored: 'status RUNNING changes no gate' });
    await dispatchGateEvent({ ...entry, executionId: 'a' }, options);
    expect(answers).toStrictEqual(['proceed a Build']);
  });

  it('disables, describes and enables a transition for an operator', async () => {
    const { options } = setup();
    await dispatchGateEvent({ operation: 'disable', pipeline: 'web', stage: 'Deploy', reason: 'freeze', by: 'ana' }, options);
    expect(await dispatchGateEvent({ operation: 'describe', pipeline: 'web' }, options)).toStrictEqual({
      pipeline: 'web',
      disabled: { Deploy: { reason: 'freeze', disabledAt: expect.any(String), disabledBy: 'ana' } },
      held: [],
    });
    expect(await dispatchGateEvent({ operation: 'enable', pipeline: 'web', stage: 'Deploy' }, options)).toMatchObject({ disabled: {} });
  });

  it('refuses what it cannot parse, naming the field', async () => {
    const { options } = setup();
    await expect(dispatchGateEvent({ operation: 'disable', pipeline: 'web', stage: 'Deploy' }, options)).rejects.toBeInstanceOf(GateEventInvalidError);
    await expect(dispatchGateEvent({ taskToken: 't', pipeline: 'web' }, options)).rejects.toThrow(/not a gate event/);
  });

  it('finds the pipeline from the input, else from the state machine name', () => {
    expect(pipelineOf({ stateMachineArn: arn, input: '{"pipeline":"api","trigger":{"type":"Webhook"},"source":{},"variables":{}}' }, 'stepline-team-')).toBe(
      'api',
    );
    expect(pipelineOf({ stateMachineArn: arn, input: 'not json' }, 'stepline-team-')).toBe('web');
    expect(pipelineOf({ stateMachineArn: arn }, 'stepline-other-')).toBeUndefined();
  });
});
