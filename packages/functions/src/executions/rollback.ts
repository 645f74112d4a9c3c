/**
 * A stage's rollback on AWS, as CodePipeline's RollbackStage: find the newest execution of the
 * pipeline's state machine that succeeded through the stage (each read through its own machine's
 * manifest), give a new execution the artifacts that execution had at the stage's entry, and start it
 * at the stage with the state data it had there (core's `rollbackInput`); the machine's
 * `end of a rollback?` Choice ends it after the stage. The conditions function does it for an
 * automatic ROLLBACK, the CLI for `rollback-stage --target aws`, with the refusals core words for both
 * runtimes.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RollbackStage.html
 */
import { CopyObjectCommand, GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  type ExecutionListItem,
  paginateListExecutions,
  type SFNClient,
  type HistoryEvent as SfnHistoryEvent,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  artifactPrefix,
  ExecutionInputSchema,
  MANIFEST_FILE,
  ManifestSchema,
  noRollbackTarget,
  type Pipeline,
  type RollbackCandidate,
  rollbackInput,
  rollbackRefusal,
  rollbackTarget,
  type TriggerType,
} from '@stepline/core';
import { mapLimit } from '../concurrency';
import { executionArnOf, normalizeHistory, readHistory, stageEntryState } from './history';
import { type CurrentManifest, MachineManifests } from './machine-manifests';

export interface RollbackOptions {
  sfn: SFNClient;
  s3: S3Client;
  stateMachineArn: string;
  /** The pipeline as deployed today: the machine the rollback runs. */
  current: CurrentManifest;
  stage: string;
  /** The rollback's execution name; an automatic one takes core's `rollbackExecutionName`. */
  name: string;
  /** Roll back to this execution. @default the newest that succeeded through the stage */
  targetExecution?: string;
  /** The execution being rolled back (an automatic rollback): never a target. */
  failedExecution?: string;
  trigger: { type: typeof TriggerType.ManualRollback | typeof TriggerType.AutomatedRollback; actor?: string };
  /** How many of the newest executions are searched for a target. @default 100 */
  searchLimit?: number;
}

export interface StartedRollback {
  executionId: string;
  executionArn: string;
  targetExecution: string;
  /** False when an execution of that name had been started already (a retried Task): nothing new started. */
  started: boolean;
}

/** A rollback that cannot start, with the reason in core's words. */
export class RollbackRefused extends Error {
  override name = 'RollbackRefused';
}

/** Objects copied at once. */
const COPIES = 8;

/** Executions of the machine whose history is read at once while looking for a target. */
const BATCH = 5;

export async function startRollback(options: RollbackOptions): Promise<StartedRollback> {
  const { sfn, stateMachineArn, current, stage, name } = options;
  const pipeline = current.manifest.pipeline;
  const executionArn = executionArnOf(stateMachineArn, name);
  const existing = await startedAlready(sfn, executionArn);
  if (existing) return { executionId: name, executionArn, targetExecution: existing, started: false };

  const refusal = rollbackRefusal(pipeline, stage, current.manifest.stateMap);
  if (refusal) throw new RollbackRefused(refusal);
  const manifests = new MachineManifests(sfn, options.s3);
  const target = await findTarget(options, manifests);
  if (!target) throw new RollbackRefused(noRollbackTarget(pipeline.name, stage, options.targetExecution));

  await copyStageInputs(options.s3, current.manifest.artifactBucket, pipeline, stage, target.executionId, name);
  const entry = stageEntryState(target.raw, stage);
  const input = rollbackInput(stage, target.executionId, entry, options.failedExecution, options.trigger);
  try {
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  } catch (error) {
    // Started by a call that raced this one: the same rollback.
    if (error instanceof ExecutionAlreadyExists) return { executionId: name, executionArn, targetExecution: target.executionId, started: false };
    throw error;
  }
  return { executionId: name, executionArn, targetExecution: target.executionId, started: true };
}

/** An execution's description, or undefined when there is none of that ARN. */
async function describe(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionCommandOutput | undefined> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

/** The target of a rollback already started under this name, read from its input. */
async function startedAlready(sfn: SFNClient, executionArn: string): Promise<string | undefined> {
  const described = await describe(sfn, executionArn);
  if (!described) return undefined;
  const input = ExecutionInputSchema.safeParse((JSON.parse(described.input ?? '{}') as { resume?: { state?: { input?: unknown } } }).resume?.state?.input);
  return (input.success ? input.data.rollback?.targetExecution : undefined) ?? 'an execution its input does not name';
}

type Candidate = RollbackCandidate & { raw: SfnHistoryEvent[] };

/** The named execution, or the newest (listed newest first) that succeeded through the stage, with its raw history. */
async function findTarget(options: RollbackOptions, manifests: MachineManifests): Promise<Candidate | undefined> {
  const read = async (name: string, arn: string): Promise<Candidate> => {
    const [raw, manifest] = await Promise.all([readHistory(options.sfn, arn), manifests.of(options.current, arn)]);
    return { executionId: name, pipeline: manifest.pipeline, stateMap: manifest.stateMap, events: normalizeHistory(raw), raw };
  };
  const pick = (candidates: Candidate[]) => rollbackTarget(candidates, options.stage) as Candidate | undefined;
  if (options.targetExecution !== undefined) {
    const arn = executionArnOf(options.stateMachineArn, options.targetExecution);
    if ((await describe(options.sfn, arn)) === undefined)
      throw new RollbackRefused(`no execution ${options.targetExecution} of pipeline ${options.current.manifest.pipeline.name}`);
    return pick([await read(options.targetExecution, arn)]);
  }
  const limit = options.searchLimit ?? 100;
  let seen = 0;
  let batch: ExecutionListItem[] = [];
  const search = async () => {
    const found = pick(await Promise.all(batch.map((item) => read(item.name ?? '', item.executionArn ?? ''))));
    batch = [];
    return found;
  };
  for await (const page of paginateListExecutions({ client: options.sfn }, { stateMachineArn: options.stateMachineArn, maxResults: 100 })) {
    for (const item of page.executions ?? []) {
      if (seen++ >= limit) return search();
      if (item.name === options.failedExecution || item.name === options.name) continue;
      batch.push(item);
      if (batch.length >= BATCH) {
        const found = await search();
        if (found) return found;
      }
    }
  }
  return search();
}

/**
 * The artifacts of the stages before `stage`, as execution `from` had them, under execution `to`'s own
 * prefix: the compiled machine reads each artifact at `<pipeline>/<execution>/<artifact>/`, so an
 * execution that resumes at a stage (a rollback, a retry) finds nothing unless they are copied. A
 * stepline manifest lists an artifact's files (a source artifact); a build's output has none and is
 * listed. Copies are conditional, so a second attempt leaves the first copy as it was.
 */
export async function copyStageInputs(s3: S3Client, bucket: string, pipeline: Pipeline, stage: string, from: string, to: string): Promise<void> {
  const before = pipeline.stages.slice(
    0,
    pipeline.stages.findIndex((s) => s.name === stage),
  );
  const artifacts = [...new Set(before.flatMap((s) => s.actions.flatMap((a) => a.outputArtifacts)))];
  for (const artifact of artifacts) {
    const source = artifactPrefix(pipeline.name, from, artifact);
    const target = artifactPrefix(pipeline.name, to, artifact);
    const paths = await artifactFiles(s3, bucket, source);
    await mapLimit(paths, COPIES, async (path) => {
      try {
        await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: `${target}${path}`, CopySource: copySource(bucket, `${source}${path}`), IfNoneMatch: '*' }));
      } catch (error) {
        if (
          !(
            error instanceof Error &&
            (error.name === 'PreconditionFailed' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412)
          )
        )
          throw error;
      }
    });
  }
}

/** CopyObject's `x-amz-copy-source`: the bucket and the URL-encoded key. */
const copySource = (bucket: string, key: string) => `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;

/** An artifact's files, relative to its prefix: its stepline manifest's and the manifest itself, else every key. */
async function artifactFiles(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${MANIFEST_FILE}` }));
    const manifest = ManifestSchema.safeParse(JSON.parse((await object.Body?.transformToString('utf8')) ?? ''));
    if (manifest.success) return [...manifest.data.files.map((f) => f.path), MANIFEST_FILE];
  } catch (error) {
    if (!(error instanceof Error && error.name === 'NoSuchKey') && !(error instanceof SyntaxError)) throw error;
  }
  const paths: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) if (object.Key) paths.push(object.Key.slice(prefix.length));
  }
  return paths;
}
