/**
 * What starts an execution, whichever runtime and whatever started it (a webhook, the CLI, a retry):
 * one input shape, parsed once, and one way to name executions.
 */
import * as z from 'zod';
import { DefinitionError } from '../errors';
import type { Pipeline } from '../model/schema';
import { SourceRevisionOverrideSchema } from './source-revisions';

export const TriggerType = { Webhook: 'Webhook', Manual: 'StartPipelineExecution', Retry: 'RetryStageExecution' } as const;

/** What the starter knows about the commit; the source action completes it. */
export const SourceRevisionSchema = z.object({
  repository: z.string().optional(),
  commitId: z.string().optional(),
  branchName: z.string().optional(),
  tag: z.string().optional(),
  commitMessage: z.string().optional(),
  authorName: z.string().optional(),
  authorDate: z.string().optional(),
  pullRequest: z.number().int().optional(),
});
export type SourceRevision = z.infer<typeof SourceRevisionSchema>;

export const ExecutionInputSchema = z.object({
  pipeline: z.string(),
  trigger: z.object({
    type: z.enum(Object.values(TriggerType)),
    /** GitHub's X-GitHub-Delivery, when a webhook started it. */
    deliveryId: z.string().optional(),
    event: z.string().optional(),
    actor: z.string().optional(),
  }),
  source: SourceRevisionSchema,
  /** Pipeline variable overrides; defaults are merged in by the state machine. */
  variables: z.record(z.string(), z.string()),
  /** Revisions the starter named for source actions (`--source-revision`); none for a webhook. */
  sourceRevisions: z.array(SourceRevisionOverrideSchema).optional(),
});

/**
 * The input that resumes a failed execution at a stage's entry (retry-stage-execution): the stage, and
 * the state data the execution had when it reached that entry.
 */
export interface ResumeInput {
  resume: { stage: string; state: unknown };
}
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

/**
 * Checks per-run variable overrides against the pipeline's variables: unknown names are refused, and
 * variables without a default must be given, as CodePipeline does on StartPipelineExecution.
 */
export function checkVariableOverrides(pipeline: Pipeline, overrides: Record<string, string>): Record<string, string> {
  const issues: Array<{ path: string; message: string }> = [];
  const declared = new Map(pipeline.variables.map((v) => [v.name, v]));
  for (const name of Object.keys(overrides)) {
    if (!declared.has(name)) {
      const known = [...declared.keys()];
      issues.push({
        path: `variables.${name}`,
        message: `not a variable of pipeline ${pipeline.name}${known.length ? ` (it declares ${known.join(', ')})` : ' (it declares none)'}`,
      });
    }
  }
  for (const v of pipeline.variables) {
    if (v.default === undefined && overrides[v.name] === undefined)
      issues.push({ path: `variables.${v.name}`, message: 'has no default: give it a value for this run' });
  }
  if (issues.length > 0) throw new DefinitionError(issues, pipeline.name);
  return overrides;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what Step Functions forbids in names
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/g;
const MAX_NAME = 80;

/**
 * A Step Functions execution name from a seed (a GitHub delivery id, a CLI-given id): same seed, same
 * name, so a redelivered webhook can't start a second run. Forbidden characters become `-`, and seeds
 * too long are shortened with a hash of the whole seed so two long seeds never collide.
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html#StepFunctions-StartExecution-request-name
 */
export function executionName(seed: string): string {
  const cleaned = seed.replace(NAME_FORBIDDEN, '-');
  if (cleaned.length > 0 && cleaned.length <= MAX_NAME) return cleaned;
  return `${cleaned.slice(0, MAX_NAME - 9)}-${fnv1a(seed)}`;
}

/** A readable, sortable, unique id for a run nobody named: `20261126T024100Z-1a2b3c4d`. */
export function newExecutionId(now: Date, random: () => number): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const suffix = Math.floor(random() * 0xffffffff)
    .toString(16)
    .padStart(8, '0');
  return `${stamp}-${suffix}`;
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
