/**
 * The instances of an in-place deployment, reached through EC2 (found by tag) and SSM Run Command
 * (the lifecycle script sent to a batch, and each instance's result read back).
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ErrorName, SteplineError } from '@stepline/core';

export interface InstanceTargets {
  tagFilters: Array<{ key: string; value: string }>;
  instanceIds: string[];
}

/** What one instance did with the batch's command. */
export type HostResult = { host: string; state: 'running' } | { host: string; state: 'done'; ok: boolean; reason?: string };

/** Statuses of a command invocation that are final. */
const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

export class SsmFleet {
  constructor(
    private readonly ec2: EC2Client,
    private readonly ssm: SSMClient,
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

  /** Runs the script on the hosts with AWS-RunShellScript; SSM ends it after `timeoutSeconds`. */
  async send(hosts: readonly string[], script: string, timeoutSeconds: number, comment: string): Promise<string> {
    const sent = await this.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [...hosts],
        Parameters: { commands: [script], executionTimeout: [String(timeoutSeconds)] },
        Comment: comment.slice(0, 100),
      }),
    );
    const id = sent.Command?.CommandId;
    if (!id) throw new SteplineError(ErrorName.Transient, 'SendCommand answered without a command id');
    return id;
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
