/**
 * The instances of an in-place deployment, reached through EC2 (found by tag) and SSM Run Command
 * (the lifecycle script sent to a batch, and each instance's result read back).
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
 */

import { createHash } from 'node:crypto';
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { CancelCommandCommand, type Command, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ErrorName, SteplineError } from '@stepline/core';

export interface InstanceTargets {
  tagFilters: Array<{ key: string; value: string }>;
  instanceIds: string[];
}

/** What one instance did with the batch's command. */
export type HostResult = { host: string; state: 'running' } | { host: string; state: 'done'; ok: boolean; reason?: string };

/** Statuses of a command invocation that are final. */
const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

/** The execution a command belongs to. */
export interface CommandExecution {
  pipeline: string;
  executionId: string;
}

/** One batch of one deployment phase: what makes a command the same command when it is sent again. */
export interface CommandBatch extends CommandExecution {
  /** The deployment's id for its phase (`d-…`, `d-…-rollback`). */
  deploymentId: string;
  /** The batch's number within the phase. */
  batch: number;
  /** Readable text after the marker in the command's comment. */
  label: string;
}

export interface SentCommand {
  commandId: string;
  /** False when an earlier attempt had sent it: nothing was sent now. */
  resent: boolean;
}

const DOCUMENT = 'AWS-RunShellScript';
/** SendCommand's limit on a comment. */
const MAX_COMMENT = 100;
/** How far back a command of the same batch is looked for: a Task's retries come within minutes. */
const RESEND_WINDOW_MS = 60 * 60 * 1000;
/** Statuses of a command that may still be cancelled. */
const UNFINISHED = new Set(['Pending', 'InProgress', 'Cancelling']);

const digest = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** `stepline:<execution hash>`: the start of the comment of every command an execution sends. */
export const executionMarker = (e: CommandExecution) => `stepline:${digest(`${e.pipeline}\n${e.executionId}`, 12)}`;

/** `stepline:<execution hash>:<batch hash>`: the start of one batch's command's comment, whatever the label. */
export const batchMarker = (b: CommandBatch) => `${executionMarker(b)}:${digest(`${b.deploymentId}\n${b.batch}`, 8)}`;

export class SsmFleet {
  constructor(
    private readonly ec2: EC2Client,
    private readonly ssm: SSMClient,
    private readonly now?: () => number,
  ) {}

  /** Running EC2 instances carrying any of the tags (as a deployment group's Ec2TagFilters), and the ids named. */
  async instances(targets: InstanceTargets): Promise<string[]> {
    const found = new Set(targets.instanceIds);
    for (const tag of targets.tagFilters) {
      let token: string | undefined;
      do {
        const page = await this.ec2.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: `tag:${tag.key}`, Values: [tag.value] },
              { Name: 'instance-state-name', Values: ['running'] },
            ],
            ...(token && { NextToken: token }),
          }),
        );
        for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId) found.add(i.InstanceId);
        token = page.NextToken;
      } while (token);
    }
    return [...found].sort();
  }

  /**
   * Runs the script on the hosts with AWS-RunShellScript; SSM ends it after `timeoutSeconds`. Sending is
   * idempotent per batch: SendCommand takes no client token, so the command's comment carries the batch's
   * marker, and a command sent with that marker in the last hour (a retried Task, or a Lambda retry of
   * one whose answer was lost) is answered instead of sending the batch again.
   */
  async send(hosts: readonly string[], script: string, timeoutSeconds: number, batch: CommandBatch): Promise<SentCommand> {
    const marker = batchMarker(batch);
    const since = new Date((this.now?.() ?? Date.now()) - RESEND_WINDOW_MS);
    const earlier = (
      await this.commands([
        { key: 'DocumentName', value: DOCUMENT },
        { key: 'InvokedAfter', value: since.toISOString() },
      ])
    ).find((c) => c.Comment?.startsWith(marker));
    if (earlier?.CommandId) return { commandId: earlier.CommandId, resent: false };
    const sent = await this.ssm.send(
      new SendCommandCommand({
        DocumentName: DOCUMENT,
        InstanceIds: [...hosts],
        Parameters: { commands: [script], executionTimeout: [String(timeoutSeconds)] },
        Comment: `${marker} ${batch.label}`.slice(0, MAX_COMMENT),
      }),
    );
    const id = sent.Command?.CommandId;
    if (!id) throw new SteplineError(ErrorName.Transient, 'SendCommand answered without a command id');
    return { commandId: id, resent: true };
  }

  /**
   * Cancels the commands of an execution that are still pending or running (the execution was stopped,
   * timed out or failed while a batch ran): CodeDeploy stops a deployment's lifecycle events the same way.
   * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
   */
  async cancel(execution: CommandExecution): Promise<string[]> {
    const marker = executionMarker(execution);
    const running = (await this.commands([{ key: 'ExecutionStage', value: 'Executing' }])).filter(
      (c) => c.CommandId && c.Comment?.startsWith(marker) && UNFINISHED.has(c.Status ?? ''),
    );
    const cancelled: string[] = [];
    for (const c of running) {
      try {
        await this.ssm.send(new CancelCommandCommand({ CommandId: c.CommandId }));
        cancelled.push(c.CommandId ?? '');
      } catch (error) {
        // Finished between the listing and the cancel: nothing left to stop.
        if ((error as Error).name !== 'InvalidCommandId') throw error;
      }
    }
    return cancelled;
  }

  /** Every command ListCommands gives for the filters, page by page. */
  private async commands(Filters: Array<{ key: 'DocumentName' | 'InvokedAfter' | 'ExecutionStage'; value: string }>): Promise<Command[]> {
    const all: Command[] = [];
    let token: string | undefined;
    do {
      const page = await this.ssm.send(new ListCommandsCommand({ Filters, MaxResults: 50, ...(token && { NextToken: token }) }));
      all.push(...(page.Commands ?? []));
      token = page.NextToken;
    } while (token);
    return all;
  }

  /** Each host's state for the command; one SSM has not registered yet is still running. */
  async results(commandId: string, hosts: readonly string[]): Promise<HostResult[]> {
    return Promise.all(
      hosts.map(async (host): Promise<HostResult> => {
        try {
          const inv = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host }));
          const status = inv.Status ?? 'Pending';
          if (!FINAL.has(status)) return { host, state: 'running' };
          if (status === 'Success') return { host, state: 'done', ok: true };
          const said = (inv.StandardErrorContent ?? '').trim().split('\n').at(-1) ?? '';
          return { host, state: 'done', ok: false, reason: said || `${status}${inv.StatusDetails ? ` (${inv.StatusDetails})` : ''}` };
        } catch (error) {
          // Right after SendCommand, an invocation may not exist yet.
          if ((error as Error).name === 'InvocationDoesNotExist') return { host, state: 'running' };
          throw error;
        }
      }),
    );
  }
}
