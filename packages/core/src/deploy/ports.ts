/**
 * The narrow interfaces behind which each runtime keeps its effects. The canary's step logic
 * (`canary.ts`) is written once against them; ECS + ALB + CloudWatch + Lambda implement them on AWS,
 * local processes + the weighted proxy on one machine.
 *
 * Roles are relative to one deployment: *blue* is the version that served production traffic when the
 * deployment began, *green* the version it installs.
 */
import type { LifecycleHook } from '../model/schema';
import type { DeploymentKey, DeploymentSpec } from './request';

/** A running version of the app, described for people (task set, process) and identified for adapters. */
export interface VersionInfo {
  id: string;
  description: string;
}

/** The deployment as it stands, derived by the provider from what is really there. */
export interface DeploymentSnapshot {
  /** Absent on an initial deployment, or once cleanup removed it. */
  blue: VersionInfo | undefined;
  /** Absent before prepare and after rollback. */
  green: VersionInfo | undefined;
  /** Which of them the provider treats as primary (ECS: the primary task set; locally: the live version). */
  primary: 'blue' | 'green' | undefined;
}

export interface HealthReport {
  healthy: boolean;
  /** What was seen: "2 of 2 targets healthy", "GET /health answered 503". */
  detail: string;
}

/** Green and blue versions: install, promote and remove them. Every method is idempotent. */
export interface DeploymentEnvironment {
  snapshot(): Promise<DeploymentSnapshot>;
  /** Installs green beside blue with no production traffic; returns the existing green when there is one. */
  createGreen(): Promise<VersionInfo>;
  /** Waits (within the provider's deadline) until green is steady and healthy. */
  checkGreenHealth(): Promise<HealthReport>;
  setPrimary(version: 'blue' | 'green'): Promise<void>;
  /** Takes the version out of every route, lets in-flight requests finish, and removes it. */
  remove(version: 'blue' | 'green'): Promise<void>;
}

/** Production traffic, or the test listener's (CodeDeploy's test traffic route). */
export type Route = 'production' | 'test';

export interface WeightCheck {
  verified: boolean;
  /** What was read back, for the error when the weight never shows: "listener forwards 90/10". */
  detail: string;
}

/**
 * Moves traffic between blue and green, as Argo Rollouts' traffic routers: one implementation per
 * provider (ALB listener weights, the local proxy). Weights are green's share in percent.
 */
export interface TrafficRouter {
  /** Whether this route exists (a test listener is optional). */
  hasRoute(route: Route): boolean;
  setWeight(route: Route, greenWeight: number): Promise<void>;
  /** Reads the weight back: providers may apply it with a lag. */
  verifyWeight(route: Route, greenWeight: number): Promise<WeightCheck>;
}

export interface AlarmFinding {
  /** The alarm's name, or the local check's ("green 5xx rate"). */
  name: string;
  reason: string;
}

export interface AlarmMonitor {
  /** The alarms that are firing now; empty when all is well. */
  firing(): Promise<AlarmFinding[]>;
}

export interface HookOutcome {
  succeeded: boolean;
  detail: string;
}

export interface HookContext {
  hook: LifecycleHook;
  blue: VersionInfo | undefined;
  green: VersionInfo | undefined;
}

export interface HookRunner {
  run(context: HookContext): Promise<HookOutcome>;
}

export const DeploymentStatus = {
  /** Green is being installed or is taking traffic step by step. */
  InProgress: 'InProgress',
  /** All traffic is on green and green is primary; blue waits for the termination wait to end. */
  Finalized: 'Finalized',
  /** Blue was removed: done. */
  Succeeded: 'Succeeded',
  /** A rollback began: no operation may send traffic to green any more. */
  RollingBack: 'RollingBack',
  RolledBack: 'RolledBack',
} as const;
export type DeploymentStatus = (typeof DeploymentStatus)[keyof typeof DeploymentStatus];

/** Statuses in which a deployment still holds something a stopped execution must undo. */
export const IN_FLIGHT_STATUSES: readonly DeploymentStatus[] = [DeploymentStatus.InProgress, DeploymentStatus.Finalized, DeploymentStatus.RollingBack];

/**
 * The record of one deployment, written before green exists (so every green has a recorded owner) and
 * kept until it ends. It holds what a rollback needs when no state machine input is at hand: the
 * deployment settings and the input artifact.
 */
export interface DeploymentRecord extends DeploymentKey {
  status: DeploymentStatus;
  deployment: DeploymentSpec;
  inputArtifact: { name: string; location: string };
  /** Whether green was installed with no blue beside it (the first deployment of this action). */
  initial?: boolean;
  /** Why the deployment was rolled back. */
  reason?: string;
  startedAt: string;
  updatedAt: string;
}

export interface StoredRecord {
  record: DeploymentRecord;
  /** Opaque version for conditional writes (an S3 ETag, a revision number). */
  version: string;
}

/** Deployment records with conditional writes, so two callers never overwrite each other unseen. */
export interface DeploymentRecordStore {
  get(key: DeploymentKey): Promise<StoredRecord | undefined>;
  /** Writes a new record; undefined when one already exists. */
  create(record: DeploymentRecord): Promise<StoredRecord | undefined>;
  /** Replaces the record if it is still at `version`; undefined when someone wrote it meanwhile. */
  replace(record: DeploymentRecord, version: string): Promise<StoredRecord | undefined>;
  /** Records of this execution whose status is one of IN_FLIGHT_STATUSES. */
  listInFlight(pipeline: string, executionId: string): Promise<DeploymentRecord[]>;
}

export interface CanaryPorts {
  environment: DeploymentEnvironment;
  router: TrafficRouter;
  alarms: AlarmMonitor;
  hooks: HookRunner;
  records: DeploymentRecordStore;
  now(): Date;
  sleep(ms: number): Promise<void>;
  log(message: string, fields?: Record<string, unknown>): void;
}
