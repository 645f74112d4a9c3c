/**
 * What a canary Task sends to its handler (the Lambda on AWS, the local canary on one machine), parsed
 * once where it enters. The compiler writes it (see `compiler/actions/deploy.ts`): the action's
 * identity, the operation, the plan step, the deployment settings and the input artifact's location.
 */
import * as z from 'zod';
import { DeployActionSchema, LifecycleHook } from '../model/schema';
import { CanaryOperation, type PlanStep } from './plan';

const shape = DeployActionSchema.shape;
const name = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

export const PlanStepSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hook'), hook: z.enum(Object.values(LifecycleHook)) }),
  z.object({ type: z.literal('prepare') }),
  z.object({ type: z.literal('allowTestTraffic') }),
  z.object({ type: z.literal('setWeight'), weight: z.number().int().min(0).max(100) }),
  z.object({ type: z.literal('wait'), seconds: z.number().nonnegative() }),
  z.object({ type: z.literal('checkAlarms') }),
  z.object({ type: z.literal('finalize') }),
]) satisfies z.ZodType<PlanStep>;

/** The deploy action's settings as the compiled Task passes them (`Payload.deployment`). */
export const DeploymentSpecSchema = z.object({
  alarms: shape.alarms,
  hooks: shape.hooks,
  terminationWaitMinutes: shape.terminationWaitMinutes,
  ecs: shape.ecs,
  lambda: shape.lambda,
  local: shape.local,
});
export type DeploymentSpec = z.output<typeof DeploymentSpecSchema>;

const identity = {
  pipeline: name('a pipeline name'),
  stage: name('a stage name'),
  action: name('an action name'),
  executionId: name('an execution id'),
};

export const CanaryRequestSchema = z
  .object({
    ...identity,
    operation: z.enum(Object.values(CanaryOperation), { error: `expected an operation: ${Object.values(CanaryOperation).join(', ')}` }),
    step: PlanStepSchema.optional(),
    /** Rollback: the failure that caused it (the ASL's `$.failure.Cause`). */
    reason: z.string().optional(),
    deployment: DeploymentSpecSchema,
    inputArtifact: z.object({ name: z.string(), location: z.string() }),
    /**
     * The action's other input artifacts, searched after the first for each file (CodeDeployToECS's
     * usual layout: taskdef.json and appspec from the source, imageDetail.json from the build).
     */
    otherInputArtifacts: z.array(z.object({ name: z.string(), location: z.string() })).optional(),
  })
  .superRefine((r, ctx) => {
    const needsStep = r.operation === 'hook' || r.operation === 'setWeight';
    if (needsStep && r.step?.type !== r.operation) ctx.addIssue({ code: 'custom', path: ['step'], message: `expected a ${r.operation} step` });
  });
/** One canary operation for one deployment. */
export type CanaryRequest = z.output<typeof CanaryRequestSchema>;

/** Not a plan step: rolls back whatever an execution has in flight when it is stopped or times out. */
export const ABORT_EXECUTION_OPERATION = 'abortExecution';

export const AbortRequestSchema = z.object({
  operation: z.literal(ABORT_EXECUTION_OPERATION),
  pipeline: identity.pipeline,
  executionId: identity.executionId,
  /** Why, for the record and the log. @default 'the execution was stopped' */
  reason: z.string().optional(),
  /** AWS only: the bucket that holds deployment records, when the function has no ARTIFACT_BUCKET. */
  bucket: z.string().optional(),
});
export type AbortRequest = z.output<typeof AbortRequestSchema>;

/** Identifies one deployment: one deploy action in one execution. */
export interface DeploymentKey {
  pipeline: string;
  stage: string;
  action: string;
  executionId: string;
}

export const deploymentKey = (r: DeploymentKey): DeploymentKey => ({ pipeline: r.pipeline, stage: r.stage, action: r.action, executionId: r.executionId });

export const describeKey = (k: DeploymentKey) => `${k.pipeline} · ${k.stage} · ${k.action} (execution ${k.executionId})`;

/** Parses a canary Task's payload; throws with every problem listed. */
export function parseCanaryRequest(payload: unknown): CanaryRequest {
  const parsed = CanaryRequestSchema.safeParse(payload);
  if (parsed.success) return parsed.data;
  throw new TypeError(`invalid canary request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

export function parseAbortRequest(payload: unknown): AbortRequest {
  const parsed = AbortRequestSchema.safeParse(payload);
  if (parsed.success) return parsed.data;
  throw new TypeError(`invalid abort request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}
