/**
 * What every AWS deployment environment (ECS task sets, a Lambda alias) is built on: the deployment's
 * stable id, and SDK calls retried on throttling with the environment's own clock.
 */
import { createHash } from 'node:crypto';
import type { CanaryRequest, DeploymentKey } from '@stepline/core';
import { type RetryOptions, retryTransient } from './retry';

/** A stable id for one deployment (a green task set's `externalId`, a Lambda alias's marker): 32 hex digits. */
export function deploymentId(key: DeploymentKey): string {
  return createHash('sha256').update([key.pipeline, key.stage, key.action, key.executionId].join('\u0000')).digest('hex').slice(0, 32);
}

export interface AwsDeploymentOptions {
  request: CanaryRequest;
  /** When a wait for green must give up (epoch ms): before the Lambda's own timeout. */
  deadline(): number;
  /** How often green is polled while it gets ready. */
  healthPollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  retry?: RetryOptions;
  log?: (message: string) => void;
}

export abstract class AwsDeployment<Target> {
  readonly id: string;
  protected readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly target: Target,
    private readonly base: AwsDeploymentOptions,
  ) {
    this.id = deploymentId(base.request);
    this.sleep = base.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(what, call, { ...this.base.retry, sleep: this.sleep });
  }
}
