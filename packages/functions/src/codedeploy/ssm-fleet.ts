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
import { mapLimit } from '../concurrency';

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

export interface SentCommands {
  /** One command per chunk of the batch (`commandChunks`), in order. */
  commandIds: string[];
  /** False when earlier attempts had sent every chunk: nothing was sent now. */
  resent: boolean;
}

const DOCUMENT = 'AWS-RunShellScript';
/** SendCommand's limit on a comment. */
const MAX_COMMENT = 100;
/** How far back a command of the same batch is looked for: a Task's retries come within minutes. */
const RESEND_WINDOW_MS = 60 * 60 * 1000;
/** Statuses of a command that may still be cancelled. */
const UNFINISHED = new Set(['Pending', 'InProgress', 'Cancelling']);
/** SendCommand takes at most 50 InstanceIds. */
export const MAX_INSTANCES_PER_COMMAND = 50;
/** GetCommandInvocation calls in flight at once: SSM throttles a burst of one per host of a large batch. */
const RESULT_CONCURRENCY = 8;

/** A batch's hosts as SendCommand takes them: chunk `i` is the batch's command `i`. */
export const commandChunks = (hosts: readonly string[]): string[][] =>
  Array.from({ length: Math.ceil(hosts.length / MAX_INSTANCES_PER_COMMAND) }, (_, i) =>
    hosts.slice(i * MAX_INSTANCES_PER_COMMAND, (i + 1) * MAX_INSTANCES_PER_COMMAND),
  );

const digest = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** `stepline:<execution hash>`: the start of the comment of every command an execution sends. */
export const executionMarker = (e: CommandExecution) => `stepline:${digest(`${e.pipeline}\n${e.executionId}`, 12)}`;

/** `stepline:<execution hash>:<command hash>`: the start of the comment of a batch's command for one chunk, whatever the label. */
export const batchMarker = (b: CommandBatch, chunk: number) => `${executionMarker(b)}:${digest(`${b.deploymentId}\n${b.batch}\n${chunk}`, 8)}`;

const isThrottled = (error: unknown) => ['ThrottlingException', 'Throttling', 'TooManyUpdates'].includes((error as Error).name);

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
   * Runs the script on the hosts with AWS-RunShellScript, one command per chunk of 50 hosts; SSM ends it
   * after `timeoutSeconds`. Sending is idempotent per chunk: SendCommand takes no client token, so each
   * command's comment carries the chunk's marker, and a command sent with that marker in the last hour
   * (a retried Task, or a Lambda retry of one whose answer was lost) is answered instead of sending it again.
   */
  async send(hosts: readonly string[], script: string, timeoutSeconds: number, batch: CommandBatch): Promise<SentCommands> {
    const since = new Date((this.now?.() ?? Date.now()) - RESEND_WINDOW_MS);
    const earlier = await this.commands([
      { key: 'DocumentName', value: DOCUMENT },
      // SSM's documented form has whole seconds (2021-07-07T00:00:00Z).
      { key: 'InvokedAfter', value: since.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    ]);
    const commandIds: string[] = [];
    let resent = false;
    for (const [chunk, instanceIds] of commandChunks(hosts).entries()) {
      const marker = batchMarker(batch, chunk);
      const found = earlier.find((c) => c.Comment?.startsWith(marker))?.CommandId;
      if (found) {
        commandIds.push(found);
        continue;
      }
      const sent = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: DOCUMENT,
          InstanceIds: instanceIds,
          Parameters: { commands: [script], executionTimeout: [String(timeoutSeconds)] },
          Comment: `${marker} ${batch.label}`.slice(0, MAX_COMMENT),
        }),
      );
      const id = sent.Command?.CommandId;
      if (!id) throw new SteplineError(ErrorName.Transient, 'SendCommand answered without a command id');
      commandIds.push(id);
      resent = true;
    }
    return { commandIds, resent };
  }

  /** Cancels the batch's commands still pending or running (the deployment ran out of time). */
  async cancelCommands(commandIds: readonly string[]): Promise<void> {
    for (const id of commandIds) {
      try {
        await this.ssm.send(new CancelCommandCommand({ CommandId: id }));
      } catch (error) {
        // Finished before the cancel: nothing left to stop.
        if ((error as Error).name !== 'InvalidCommandId') throw error;
      }
    }
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

  /**
   * Each host's state for the batch's commands (chunk `i` of the hosts is command `i`); one SSM has not
   * registered yet is still running (the deployment's deadline ends that wait). A few hosts are asked at
   * a time, and SSM's throttling is Stepline.Transient, which the Task retries.
   */
  async results(commandIds: readonly string[], hosts: readonly string[]): Promise<HostResult[]> {
    const chunks = commandChunks(hosts);
    if (chunks.length !== commandIds.length)
      throw new SteplineError(
        ErrorName.DefinitionInvalid,
        `the batch of ${hosts.length} hosts needs ${chunks.length} commands, the deployment has ${commandIds.length}`,
      );
    const asked = chunks.flatMap((chunk, i) => chunk.map((host) => ({ host, commandId: commandIds[i] ?? '' })));
    return mapLimit(asked, RESULT_CONCURRENCY, ({ host, commandId }) => this.result(commandId, host));
  }

  private async result(commandId: string, host: string): Promise<HostResult> {
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
      if (isThrottled(error)) throw new SteplineError(ErrorName.Transient, `SSM throttled GetCommandInvocation of ${commandId} on ${host}`, { cause: error });
      throw error;
    }
  }
}
