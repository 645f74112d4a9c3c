/**
 * Starts executions so that a delivery starts each pipeline at most once, whatever retries happen.
 *
 * The execution name is the delivery's (`executionName(X-GitHub-Delivery)`), and Step Functions keeps
 * names unique per state machine for 90 days: a redelivery, a Lambda retry or a second webhook function
 * asks for the same name. StartExecution answers an identical request for a running execution with
 * success, and `ExecutionAlreadyExists` otherwise (the execution has ended, or the input differs);
 * both mean "already started", never a second run. The state machine keeps the state: nothing else is stored.
 *
 * Execution modes are not handled here: each compiled state machine begins with a gate Task
 * (`<Stage> · enter stage`) whose function applies PARALLEL, QUEUED and SUPERSEDED (see `applyGateEvent`).
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { WebhookStart } from '@stepline/core';
import { ConfigurationError } from '../errors';
import { executionArnOf } from '../executions/history';
import { canonicalJson } from '../runtime';

export type StartOutcome =
  | { pipeline: string; status: 'started'; executionArn: string }
  | { pipeline: string; status: 'already-started'; executionArn: string; sameInput: boolean | undefined };

/** Where each pipeline's state machine is: an explicit map, or a name prefix in the function's account and region. */
export class StateMachines {
  constructor(
    private readonly arns: Readonly<Record<string, string>>,
    private readonly prefix?: { prefix: string; region: string; account: string },
  ) {}

  static fromSettings(arnsJson: string | undefined, prefix: string | undefined, where: { region: string; account: string } | undefined): StateMachines {
    let arns: Record<string, string> = {};
    if (arnsJson !== undefined) {
      try {
        const value: unknown = JSON.parse(arnsJson);
        if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string'))
          throw new Error('expected an object of pipeline names to ARNs');
        arns = value as Record<string, string>;
      } catch (error) {
        throw new ConfigurationError(`STATE_MACHINE_ARNS: expected a JSON object of pipeline names to state machine ARNs`, { cause: error });
      }
    }
    if (arnsJson === undefined && prefix === undefined) throw new ConfigurationError('set STATE_MACHINE_ARNS or STATE_MACHINE_PREFIX');
    return new StateMachines(arns, prefix !== undefined && where ? { prefix, ...where } : undefined);
  }

  arnOf(pipeline: string): string | undefined {
    const explicit = this.arns[pipeline];
    if (explicit !== undefined) return explicit;
    if (!this.prefix) return undefined;
    return `arn:aws:states:${this.prefix.region}:${this.prefix.account}:stateMachine:${this.prefix.prefix}${pipeline}`;
  }
}

export async function startOnce(sfn: SFNClient, stateMachineArn: string, start: WebhookStart, signal?: AbortSignal): Promise<StartOutcome> {
  const { DescribeExecutionCommand, StartExecutionCommand } = await import('@aws-sdk/client-sfn');
  const input = JSON.stringify(start.input);
  try {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: start.executionName, input }), { abortSignal: signal });
    return { pipeline: start.pipeline, status: 'started', executionArn: out.executionArn ?? executionArnOf(stateMachineArn, start.executionName) };
  } catch (error) {
    if ((error as { name?: unknown })?.name !== 'ExecutionAlreadyExists') throw error;
    const executionArn = executionArnOf(stateMachineArn, start.executionName);
    let sameInput: boolean | undefined;
    try {
      const existing = await sfn.send(new DescribeExecutionCommand({ executionArn }), { abortSignal: signal });
      sameInput = existing.input === undefined ? undefined : canonicalJson(JSON.parse(existing.input)) === canonicalJson(start.input);
    } catch {
      // Comparing is for the log only; the execution exists, which is what matters.
    }
    return { pipeline: start.pipeline, status: 'already-started', executionArn, sameInput };
  }
}
