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
    providers: ['GitHub', 'CodeStarSourceConnection', 'CodeCommit'],
    why: 'a commit of a repository source (GitHub, CodeStarSourceConnection, CodeCommit)',
  },
  IMAGE_DIGEST: { providers: [], why: 'an ECR image source, which stepline does not have (its sources are repositories)' },
  // stepline's source function reads commits; it does not fetch S3 objects by key or version.
  S3_OBJECT_VERSION_ID: { providers: [], why: 'an S3 source, whose objects stepline does not fetch by key or version: start it on a commit instead' },
  S3_OBJECT_KEY: { providers: [], why: 'an S3 source, whose objects stepline does not fetch by key or version: start it on a commit instead' },
};

/** A full git object id: SHA-1 (40) or SHA-256 (64) hexadecimal characters. */
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

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
 * action gets two of one type. Throws `DefinitionError` listing every problem.
 */
export function checkSourceRevisionOverrides(pipeline: Pipeline, overrides: readonly SourceRevisionOverride[]): SourceRevisionOverride[] {
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
      add(`applies to ${applies.why}; ${o.actionName} is a source of provider ${action.provider}${action.provider === 'S3' ? '' : ': use COMMIT_ID'}`);
      return;
    }
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
  const commit = overrides?.find((o) => o.actionName === action && o.revisionType === SourceRevisionType.CommitId);
  return commit ? { commitId: commit.revisionValue } : trigger;
}
