/**
 * Source revision overrides at start (StartPipelineExecution's `sourceRevisions`): run a source action
 * on a revision the starter names instead of its branch head. Written on the command line as
 * `<action>=<TYPE>:<value>`, checked against the pipeline before anything starts, carried in the
 * execution's input to the source actions, which build that revision.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SourceRevisionOverride.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html
 */
import * as z from 'zod';
import { DefinitionError, type DefinitionIssue } from '../errors';
import type { Pipeline, SourceAction } from '../model/schema';
import type { SourceRevision } from './input';

export const SourceRevisionType = {
  CommitId: 'COMMIT_ID',
  ImageDigest: 'IMAGE_DIGEST',
  S3ObjectVersionId: 'S3_OBJECT_VERSION_ID',
  S3ObjectKey: 'S3_OBJECT_KEY',
} as const;
export type SourceRevisionType = (typeof SourceRevisionType)[keyof typeof SourceRevisionType];
const TYPES = Object.values(SourceRevisionType);

export const SourceRevisionOverrideSchema = z.object({
  actionName: z.string().min(1).max(100),
  revisionType: z.enum(TYPES),
  revisionValue: z.string().min(1).max(1500),
});
export type SourceRevisionOverride = z.infer<typeof SourceRevisionOverrideSchema>;

/** StartPipelineExecution takes at most this many. */
export const MAX_SOURCE_REVISIONS = 50;

/** What each revision type overrides, and the source providers stepline builds it for. */
const APPLIES: Record<SourceRevisionType, { providers: readonly SourceAction['provider'][]; why: string }> = {
  COMMIT_ID: {
    providers: ['GitHub', 'CodeStarSourceConnection', 'GitLab', 'Bitbucket', 'CodeCommit'],
    why: 'a commit of a repository source (GitHub, CodeStarSourceConnection, GitLab, Bitbucket, CodeCommit)',
  },
  IMAGE_DIGEST: { providers: ['ECR'], why: 'an image of an ECR source' },
  S3_OBJECT_VERSION_ID: { providers: ['S3'], why: 'a version of an S3 source’s object' },
  S3_OBJECT_KEY: { providers: ['S3'], why: 'the object key of an S3 source' },
};

/** Where overrides are checked for: the runtime that will build them. */
export type OverrideTarget = 'aws' | 'local';

/** A full git object id: SHA-1 (40) or SHA-256 (64) hexadecimal characters. */
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

/** An image digest as ECR gives it. */
const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `Checkout=COMMIT_ID:0f3c…` → an override; `where` names the option in the error. */
export function parseSourceRevisionFlag(text: string, where = '--source-revision'): SourceRevisionOverride {
  const eq = text.indexOf('=');
  const colon = text.indexOf(':', eq + 1);
  const fail = (message: string): never => {
    throw new DefinitionError([{ path: `${where} ${text}`, message }]);
  };
  if (eq <= 0 || colon < 0) fail(`expected <action>=<TYPE>:<value>, such as Checkout=COMMIT_ID:<sha> (TYPE: ${TYPES.join(', ')})`);
  const type = text.slice(eq + 1, colon);
  if (!(TYPES as readonly string[]).includes(type)) fail(`unknown revision type "${type}": expected one of ${TYPES.join(', ')}`);
  const value = text.slice(colon + 1);
  if (value === '') fail('expected a revision value after the type');
  if (value.length > 1500) fail('expected a revision value of at most 1500 characters');
  return { actionName: text.slice(0, eq), revisionType: type as SourceRevisionType, revisionValue: value };
}

/**
 * Checks overrides against the pipeline, as StartPipelineExecution does before it starts: each names
 * a source action of this pipeline, a type that applies to its provider, a well-formed value, and no
 * action gets two of one type; on `target`, a revision that runtime can build (one machine reads an S3
 * source from the local repository, so it takes no S3 object key or version). Throws `DefinitionError`
 * listing every problem.
 */
export function checkSourceRevisionOverrides(
  pipeline: Pipeline,
  overrides: readonly SourceRevisionOverride[],
  target: OverrideTarget,
): SourceRevisionOverride[] {
  const issues: DefinitionIssue[] = [];
  const sources = new Map(pipeline.stages.flatMap((s) => s.actions.flatMap((a) => (a.kind === 'source' ? [[a.name, a] as const] : []))));
  const seen = new Set<string>();
  if (overrides.length > MAX_SOURCE_REVISIONS)
    issues.push({ path: 'sourceRevisions', message: `expected at most ${MAX_SOURCE_REVISIONS} overrides, got ${overrides.length}` });
  overrides.forEach((o, i) => {
    const add = (message: string) => issues.push({ path: `sourceRevisions[${i}]`, message: `${o.actionName}=${o.revisionType}: ${message}` });
    const action = sources.get(o.actionName);
    if (!action) {
      const other = pipeline.stages.flatMap((s) => s.actions).find((a) => a.name === o.actionName);
      add(
        other
          ? `${o.actionName} is a ${other.kind} action; only source actions take a revision`
          : `no source action is named ${o.actionName} in pipeline ${pipeline.name} (its source actions: ${[...sources.keys()].join(', ')})`,
      );
      return;
    }
    const applies = APPLIES[o.revisionType];
    if (!applies.providers.includes(action.provider)) {
      add(
        `applies to ${applies.why}; ${o.actionName} is a source of provider ${action.provider}: use ${action.provider === 'S3' ? 'S3_OBJECT_VERSION_ID or S3_OBJECT_KEY' : action.provider === 'ECR' ? 'IMAGE_DIGEST' : 'COMMIT_ID'}`,
      );
      return;
    }
    if (action.provider === 'S3' && target === 'local') {
      add(
        `on this machine the S3 source ${o.actionName} reads the local repository in place of s3://${action.repository}, so no object key or version can be chosen: start it on AWS (--target aws)`,
      );
      return;
    }
    if (o.revisionType === SourceRevisionType.S3ObjectKey && action.allowOverrideForS3ObjectKey !== true)
      add(
        `${o.actionName} does not allow its object key to be overridden: set allowOverrideForS3ObjectKey: true on it (CodePipeline's AllowOverrideForS3ObjectKey)`,
      );
    if (o.revisionType === SourceRevisionType.ImageDigest && !IMAGE_DIGEST.test(o.revisionValue))
      add(`expected an image digest (sha256: and 64 hexadecimal characters), got "${o.revisionValue}"`);
    if (o.revisionType === SourceRevisionType.CommitId && !COMMIT_ID.test(o.revisionValue))
      add(`expected a full commit id (40 hexadecimal characters, or 64 in a SHA-256 repository), got "${o.revisionValue}"`);
    const key = `${o.actionName}\u0000${o.revisionType}`;
    if (seen.has(key)) add('given twice: one revision of each type per action');
    seen.add(key);
  });
  if (issues.length > 0) throw new DefinitionError(issues, pipeline.name);
  return [...overrides];
}

/**
 * The revision a source action builds: the one an override names for it, else the trigger's. An
 * override replaces the trigger's commit and what GitHub said about it; the branch stays the action's.
 */
export function sourceRevisionFor(action: string, trigger: SourceRevision, overrides: readonly SourceRevisionOverride[] | undefined): SourceRevision {
  const named = overrides?.find(
    (o) => o.actionName === action && (o.revisionType === SourceRevisionType.CommitId || o.revisionType === SourceRevisionType.ImageDigest),
  );
  if (!named) return trigger;
  return named.revisionType === SourceRevisionType.ImageDigest ? { imageDigest: named.revisionValue } : { commitId: named.revisionValue };
}

/** The object an S3 source reads: its bucket and key (`repository: bucket/key`), with the key and version a start named for it. */
export interface S3SourceObject {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * The object an S3 source builds: its configured key, else the key a start named (S3_OBJECT_KEY), at
 * the version a start named (S3_OBJECT_VERSION_ID), else the latest. Both may be given together.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html
 */
export function s3SourceObject(action: string, repository: string, overrides: readonly SourceRevisionOverride[] | undefined): S3SourceObject {
  const slash = repository.indexOf('/');
  const named = (type: SourceRevisionType) => overrides?.find((o) => o.actionName === action && o.revisionType === type)?.revisionValue;
  const key = named(SourceRevisionType.S3ObjectKey) ?? repository.slice(slash + 1);
  const versionId = named(SourceRevisionType.S3ObjectVersionId);
  return { bucket: repository.slice(0, slash), key, ...(versionId !== undefined && { versionId }) };
}
