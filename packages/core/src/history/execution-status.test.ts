import { describe, expect, it } from 'vitest';
import { ErrorName } from '../errors';
import { ExecutionStatus, failureFromStateInput, pipelineExecutionStatus, SfnExecutionStatus } from './execution-status';

describe('pipelineExecutionStatus', () => {
  it.each([
    [SfnExecutionStatus.Succeeded, {}, ExecutionStatus.Succeeded],
    [SfnExecutionStatus.Succeeded, { stopRequested: true }, ExecutionStatus.Succeeded],
    [SfnExecutionStatus.Aborted, {}, ExecutionStatus.Stopped],
    [SfnExecutionStatus.Failed, {}, ExecutionStatus.Failed],
    [SfnExecutionStatus.Failed, { error: 'States.TaskFailed' }, ExecutionStatus.Failed],
    [SfnExecutionStatus.Failed, { error: ErrorName.Superseded }, ExecutionStatus.Superseded],
    [SfnExecutionStatus.Failed, { error: ErrorName.Stopped }, ExecutionStatus.Stopped],
    [SfnExecutionStatus.Failed, { error: 'States.TaskFailed', stopRequested: true }, ExecutionStatus.Stopped],
    [SfnExecutionStatus.TimedOut, { error: 'States.Timeout' }, ExecutionStatus.Failed],
    [SfnExecutionStatus.Running, {}, ExecutionStatus.InProgress],
    [SfnExecutionStatus.Running, { stopRequested: true }, ExecutionStatus.Stopping],
    [SfnExecutionStatus.PendingRedrive, {}, ExecutionStatus.InProgress],
    [undefined, {}, ExecutionStatus.InProgress],
  ] as const)('%s %j → %s', (status, context, expected) => {
    expect(pipelineExecutionStatus(status, context)).toBe(expected);
  });
});

describe('failureFromStateInput', () => {
  it('reads the error and cause a Catch put under `failure`, from an object or from history text', () => {
    const input = { variables: {}, failure: { Error: 'Stepline.BuildFailed', Cause: 'exit 2' } };
    expect(failureFromStateInput(input)).toStrictEqual({ error: 'Stepline.BuildFailed', cause: 'exit 2' });
    expect(failureFromStateInput(JSON.stringify(input))).toStrictEqual({ error: 'Stepline.BuildFailed', cause: 'exit 2' });
  });

  it('records nothing from input without a failure, from text that is not JSON, or from fields that are not text', () => {
    expect(failureFromStateInput({ variables: {} })).toStrictEqual({});
    expect(failureFromStateInput('not json')).toStrictEqual({});
    expect(failureFromStateInput(null)).toStrictEqual({});
    expect(failureFromStateInput({ failure: { Error: 42, Cause: 'x' } })).toStrictEqual({ cause: 'x' });
  });
});
