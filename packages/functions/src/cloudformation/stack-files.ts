/**
 * The cloudformation function's two operations on AWS (see `compileCloudFormation`): `prepare` reads the
 * action's input artifacts in the artifact bucket (template configuration, `Fn::GetParam` files) and
 * answers the whole input of the stack and change set calls, the template by its S3 URL; `outputs`
 * writes the stack's outputs file into the output artifact. What to send is core's `stackCallInput`,
 * the same on one machine.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  type ActionArtifacts,
  ArtifactInvalidError,
  type ChangeSetCallInput,
  type StackCallInput,
  splitArtifactFile,
  stackCallInput,
  stackOutputsFile,
} from '@stepline/core';
import * as z from 'zod';
import { S3Artifact, splitLocation } from '../canary/artifact';

const identity = { pipeline: z.string(), stage: z.string(), action: z.string(), executionId: z.string() };
const ArtifactRef = z.object({ name: z.string(), location: z.string() });

/** What the compiled prepare Task sends. */
export const PrepareTaskSchema = z.object({
  ...identity,
  operation: z.literal('prepare'),
  deploy: z.object({
    stackName: z.string(),
    inputArtifacts: z.array(z.string()),
    changeSetName: z.string().optional(),
    templatePath: z.string(),
    templateConfiguration: z.string().optional(),
    parameterOverrides: z.record(z.string(), z.string()).optional(),
    capabilities: z.array(z.string()).optional(),
    roleArn: z.string().optional(),
  }),
  inputArtifacts: z.array(ArtifactRef),
});

/** What the compiled outputs Task sends: the action's state data, whose `stack.stack` is the last DescribeStacks answer. */
export const OutputsTaskSchema = z.object({
  ...identity,
  operation: z.literal('outputs'),
  mode: z.string(),
  result: z.object({
    stack: z.object({ stack: z.object({ Outputs: z.array(z.object({ OutputKey: z.string(), OutputValue: z.string() })).optional() }) }).optional(),
  }),
  outputArtifact: ArtifactRef,
  outputFileName: z.string().optional(),
});

export const CloudFormationTaskSchema = z.discriminatedUnion('operation', [PrepareTaskSchema, OutputsTaskSchema]);
export type CloudFormationTask = z.infer<typeof CloudFormationTaskSchema>;

/** The virtual-hosted URL of an object, as CloudFormation reads a TemplateURL. */
const objectUrl = (bucket: string, key: string, region: string) => `https://${bucket}.s3.${region}.amazonaws.com/${key}`;

/** The input artifacts in S3, as core reads them; `Fn::GetArtifactAtt` answers the artifact's folder (stepline stores files, not a zip). */
export function s3ActionArtifacts(s3: S3Client, refs: ReadonlyArray<z.infer<typeof ArtifactRef>>, region: string): ActionArtifacts {
  const byName = new Map(refs.map((r) => [r.name, { ref: r, reader: new S3Artifact(s3, r.name, r.location) }]));
  const find = (artifact: string) => {
    const found = byName.get(artifact);
    if (!found) throw new ArtifactInvalidError(`${artifact} is not an input artifact of the action`);
    return found;
  };
  return {
    read: (artifact, path) => find(artifact).reader.read(path),
    attribute: (artifact, name) => {
      const { bucket, prefix } = splitLocation(find(artifact).ref.location);
      return name === 'BucketName' ? bucket : name === 'ObjectKey' ? prefix : objectUrl(bucket, prefix, region);
    },
  };
}

/** `prepare`: the calls' input, the template by its URL in the artifact bucket (checked against its artifact first). */
export async function prepareStackInput(
  s3: S3Client,
  task: z.infer<typeof PrepareTaskSchema>,
  region: string,
): Promise<{ stack: StackCallInput; changeSet?: ChangeSetCallInput }> {
  const artifacts = s3ActionArtifacts(s3, task.inputArtifacts, region);
  const { artifact, path } = splitArtifactFile(task.deploy.templatePath);
  await artifacts.read(artifact, path);
  const location = task.inputArtifacts.find((a) => a.name === artifact)?.location ?? '';
  const { bucket, prefix } = splitLocation(location);
  return stackCallInput(task.deploy, { TemplateURL: objectUrl(bucket, `${prefix}${path}`, region) }, artifacts);
}

/**
 * `outputs`: the outputs file (`{}` after a delete) into the output artifact. Written over, not
 * write-once: a stage retried in the same execution (onFailure RETRY with ALL_ACTIONS, or the Task's
 * own retry after a lost answer) deploys again and writes to the same key, and the latest stack's
 * outputs are the ones that hold. One PutObject is atomic, so no reader sees half a file.
 */
export async function writeOutputsFile(s3: S3Client, task: z.infer<typeof OutputsTaskSchema>): Promise<{ key?: string }> {
  if (task.outputFileName === undefined) return {};
  const { bucket, prefix } = splitLocation(task.outputArtifact.location);
  const key = `${prefix}${task.outputFileName}`;
  const outputs = task.mode === 'DELETE_ONLY' ? [] : task.result.stack?.stack.Outputs;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: stackOutputsFile(outputs),
      ContentType: 'application/json',
      ChecksumAlgorithm: 'SHA256',
    }),
  );
  return { key };
}
