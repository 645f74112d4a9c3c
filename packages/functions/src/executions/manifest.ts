/**
 * How the CLI finds an AWS installation's pipelines. `sst deploy` tags each pipeline's state machine
 * and writes, beside the artifacts, a manifest with the parsed pipeline and the compiler's state map:
 * everything needed to turn Step Functions history into pipeline state without the definition files.
 *
 *   state machine tags   stepline:pipeline = web
 *                        stepline:installation = <sst stage>
 *                        stepline:manifest = s3://<artifact bucket>/_stepline/pipelines/web.json
 *
 * Each deploy also writes the manifest under the machine's hash (`_stepline/pipelines/web/<sha-256>.json`,
 * core's `machineManifestKey`) and keeps it, so that an execution is read through the manifest of the
 * machine it ran, found by hashing the definition `DescribeStateMachineForExecution` returns.
 *
 * The stacks write this shape (stacks/manifest.ts); a contract test keeps the two in step.
 */
import { InstallationTag, PIPELINE_MANIFEST_VERSION, type PipelineManifestDocument, PipelineSchema, StateRole } from '@stepline/core';
import * as z from 'zod';

/** The tags the CLI finds state machines by (the installation contract in core). */
export const ManifestTag = InstallationTag;

export const MANIFEST_VERSION = PIPELINE_MANIFEST_VERSION;

const StateInfoSchema = z.object({
  role: z.enum(Object.values(StateRole)),
  stage: z.string().optional(),
  action: z.string().optional(),
  kind: z.string().optional(),
  final: z.boolean().optional(),
  // A condition's Wait state: without it an installed pipeline never shows a stage waiting on its rules.
  waiting: z.boolean().optional(),
});

export const PipelineManifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  installation: z.string(),
  pipeline: PipelineSchema,
  stateMap: z.record(z.string(), StateInfoSchema),
  /** SHA-256 of the compiled machine (core's `machineHash`); absent in manifests written before it was kept. */
  machineHash: z.string().optional(),
  stateMachineName: z.string(),
  artifactBucket: z.string(),
  /** Where gate state objects live in the bucket. */
  gatePrefix: z.string(),
});

export type PipelineManifest = PipelineManifestDocument;

/** Parses a manifest read from S3; `where` names it in the error. */
export function parseManifest(text: string, where: string): PipelineManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not JSON`, { cause: error });
  }
  const result = PipelineManifestSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${where}: not a stepline pipeline manifest (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`);
  }
  return result.data as PipelineManifest;
}

/** `s3://bucket/key` → its parts. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return match?.[1] && match[2] ? { bucket: match[1], key: match[2] } : undefined;
}
