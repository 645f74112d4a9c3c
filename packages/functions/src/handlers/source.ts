/**
 * The source function: target of every source action's Task (`arn:aws:states:::lambda:invoke`, see
 * `compileSource`). It settles the commit the execution builds and returns it as the action's variables
 * (`#{SourceVariables.CommitId}` and the rest), as CodePipeline's source actions do:
 *
 * - started by a webhook for this action's repository: the trigger's commit (the webhook's `after` or
 *   the pull request head), with details GitHub's payload lacked read from the GitHub API;
 * - started with a revision for this action (`--source-revision Action=COMMIT_ID:<sha>`): that commit;
 * - started by hand, or by a trigger on another source action: the head of the branch (the trigger's,
 *   else the action's `branch`), read from the GitHub API.
 *
 * An ECR source (`provider: ECR`) gives the image instead: the digest the push event carried, else the
 * image its tag names now (ecr:DescribeImages), as CodePipeline's ECR variables and `imageDetail.json`
 * in the output artifact (see ../source/ecr.ts).
 *
 * The commit's tree, downloaded from its git host (GitHub, GitLab or Bitbucket, see ../source/archive.ts),
 * is stored as the action's output artifact (`<pipeline>/<execution>/<artifact>/` with a manifest, see
 * ../source/store.ts), as CodePipeline stores every source: builds read it as an S3 source, deploys and
 * invokes read its files. A build whose project is this repository's checks the commit out itself
 * (`SourceVersion`).
 *
 * Environment:
 * - `GITHUB_TOKEN` — reference to a GitHub token that can read the repositories (see ../secrets.ts);
 *   optional for public repositories
 * - `GITHUB_API_URL` — default `https://api.github.com`
 * - `GITLAB_TOKEN`, `GITLAB_API_URL` (default `https://gitlab.com/api/v4`), `BITBUCKET_TOKEN` (`user:app
 *   password`, or an access token), `BITBUCKET_URL` (default `https://bitbucket.org`) — the same for those hosts
 * - `ARTIFACT_BUCKET` — where the source artifact is stored when the Task names no bucket
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html#reference-variables-list
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import {
  EnvVar,
  ErrorName,
  GIT_HOST_ACCESS_ENV,
  type GitHost,
  gitHostOf,
  SourceProvider,
  SourceRevisionOverrideSchema,
  SourceRevisionSchema,
  SteplineError,
  s3SourceObject,
  sourceRevisionFor,
} from '@stepline/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { ecrClient, s3Client, secretCache } from '../aws';
import { getCommit } from '../github-api';
import { type Env, functionLogger, optionalEnv } from '../runtime';
import type { SecretSource } from '../secrets';
import type { Fetch } from '../slack';
import type { GitHostApiOptions } from '../source/archive';
import { type EcrImage, resolveEcrImage } from '../source/ecr';
import { readS3Source } from '../source/s3-object';
import { storeArtifact, storeSourceArtifact } from '../source/store';

/** What the compiled source Task sends (see `compileSource`). */
const SourceTaskSchema = z.object({
  pipeline: z.string(),
  stage: z.string(),
  action: z.string(),
  executionId: z.string(),
  provider: z.enum(SourceProvider),
  repository: z.string().min(1),
  branch: z.string().min(1),
  connectionArn: z.string().optional(),
  imageTag: z.string().optional(),
  outputArtifact: z.string().optional(),
  artifactBucket: z.string().optional(),
  trigger: SourceRevisionSchema.nullish(),
  sourceRevisions: z.array(SourceRevisionOverrideSchema).nullish(),
});

/** The source action's output variables, every one a string. */
export interface SourceVariables {
  CommitId: string;
  BranchName: string;
  CommitMessage: string;
  AuthorName: string;
  AuthorDate: string;
  FullRepositoryName: string;
  ProviderType: string;
}

/** An S3 source's: CodePipeline's ETag and VersionId, and the version as the commit. */
export type S3SourceVariables = SourceVariables & { ETag: string; VersionId: string };

const GITHUB_PROVIDERS: ReadonlySet<string> = new Set(['GitHub', 'CodeStarSourceConnection']);

export interface SourceDependencies {
  env: Env;
  secrets: SecretSource;
  fetch: Fetch;
  logger: Logger;
  s3: () => Promise<S3Client>;
  ecr: () => Promise<ECRClient>;
}

export function sourceDependencies(env: Env = process.env): SourceDependencies {
  return {
    env,
    secrets: secretCache(),
    fetch: (...args) => fetch(...args),
    logger: functionLogger('source'),
    s3: s3Client(),
    ecr: ecrClient(),
  };
}

export function createSourceHandler(deps: SourceDependencies) {
  const { env, logger } = deps;

  /** How to reach a git host: its token (a secret reference) and base URL, from the environment. */
  async function hostApi(host: GitHost): Promise<GitHostApiOptions> {
    const tokenReference = optionalEnv(env, GIT_HOST_ACCESS_ENV[host].token);
    const apiUrl = optionalEnv(env, GIT_HOST_ACCESS_ENV[host].url);
    return {
      fetch: deps.fetch,
      ...(apiUrl !== undefined && { apiUrl }),
      ...(tokenReference !== undefined && { token: await deps.secrets.get(tokenReference) }),
    };
  }
  const github = () => hostApi('GitHub');

  /** Stores the commit's tree, downloaded from its git host, as the output artifact. */
  async function store(task: z.infer<typeof SourceTaskSchema>, commitId: string): Promise<void> {
    const bucket = task.artifactBucket ?? optionalEnv(env, EnvVar.ArtifactBucket);
    const host = gitHostOf(task);
    if (!task.outputArtifact || host === undefined) return;
    if (!bucket) throw new SteplineError(ErrorName.ActionFailed, `no artifact bucket to store ${task.outputArtifact} in: set ${EnvVar.ArtifactBucket}`);
    await storeSourceArtifact({
      s3: await deps.s3(),
      host,
      api: await hostApi(host),
      repository: task.repository,
      commitId,
      bucket,
      pipeline: task.pipeline,
      executionId: task.executionId,
      artifact: task.outputArtifact,
      log: (message, fields) => logger.info(message, fields ?? {}),
    });
  }

  /** The image of an ECR source, and `imageDetail.json` as its output artifact. */
  async function image(task: z.infer<typeof SourceTaskSchema>, context: Context | undefined): Promise<{ variables: EcrImage['variables'] }> {
    // A digest named at start (IMAGE_DIGEST) or by the push event; an event of another repository is not ours.
    const trigger = sourceRevisionFor(task.action, task.trigger ?? {}, task.sourceRevisions ?? undefined);
    const ours = trigger.imageDigest !== undefined && (trigger.repository === undefined || trigger.repository === task.repository);
    const region = context?.invokedFunctionArn?.split(':')[3] ?? optionalEnv(env, 'AWS_REGION') ?? 'us-east-1';
    const found = await resolveEcrImage(await deps.ecr(), {
      repository: task.repository,
      imageTag: task.imageTag ?? 'latest',
      ...(ours && trigger.imageDigest !== undefined && { imageDigest: trigger.imageDigest }),
      region,
    });
    logger.info('image resolved', { imageUri: found.variables.ImageURI, fromEvent: ours });
    const bucket = task.artifactBucket ?? optionalEnv(env, EnvVar.ArtifactBucket);
    if (task.outputArtifact && bucket) {
      const data = new TextEncoder().encode(`${JSON.stringify(found.imageDetail, null, 2)}\n`);
      await storeArtifact(
        {
          s3: await deps.s3(),
          bucket,
          pipeline: task.pipeline,
          executionId: task.executionId,
          artifact: task.outputArtifact,
          log: (m, f) => logger.info(m, f ?? {}),
        },
        async () => [{ path: 'imageDetail.json', data }],
      );
    }
    return { variables: found.variables };
  }

  /** The object of an S3 source (the version and key a start named, else its own), unpacked as the output artifact. */
  async function s3Object(task: z.infer<typeof SourceTaskSchema>): Promise<{ variables: S3SourceVariables }> {
    const object = s3SourceObject(task.action, task.repository, task.sourceRevisions ?? undefined);
    const s3 = await deps.s3();
    const read = await readS3Source(s3, object, task.action);
    logger.info('S3 object read', { bucket: object.bucket, key: object.key, versionId: read.versionId, files: read.files.length });
    const bucket = task.artifactBucket ?? optionalEnv(env, EnvVar.ArtifactBucket);
    if (task.outputArtifact && bucket) {
      const target = { s3, bucket, pipeline: task.pipeline, executionId: task.executionId, artifact: task.outputArtifact };
      await storeArtifact({ ...target, log: (m, f) => logger.info(m, f ?? {}) }, async () => read.files);
    }
    return {
      variables: {
        ...variables({ ...task, repository: `${object.bucket}/${object.key}` }, read.versionId, '', undefined, undefined, undefined),
        ETag: read.etag,
        VersionId: read.versionId,
      },
    };
  }

  return async (event: unknown, context?: Context): Promise<{ variables: SourceVariables | S3SourceVariables | EcrImage['variables'] }> => {
    const parsed = SourceTaskSchema.safeParse(event);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SteplineError(ErrorName.ActionFailed, `not a source action request: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`);
    }
    const task = parsed.data;
    logger.appendKeys({ pipeline: task.pipeline, stage: task.stage, action: task.action, executionId: task.executionId });
    if (task.provider === 'ECR') return image(task, context);
    if (task.provider === 'S3') return s3Object(task);
    // A revision named at start (StartPipelineExecution's sourceRevisions) wins over the trigger.
    const trigger = sourceRevisionFor(task.action, task.trigger ?? {}, task.sourceRevisions ?? undefined);
    // Every source action receives the execution's trigger; only the action whose repository it names builds its commit.
    const ours = trigger.repository === undefined || trigger.repository.toLowerCase() === task.repository.toLowerCase();
    const onGitHub = GITHUB_PROVIDERS.has(task.provider);
    const branch = ours && trigger.tag === undefined ? (trigger.branchName ?? task.branch) : ours ? '' : task.branch;

    if (ours && trigger.commitId) {
      let details = { message: trigger.commitMessage, authorName: trigger.authorName, authorDate: trigger.authorDate };
      if (onGitHub && (details.message === undefined || details.authorName === undefined || details.authorDate === undefined)) {
        try {
          const commit = await getCommit(await github(), task.repository, trigger.commitId);
          details = {
            message: details.message ?? commit.message,
            authorName: details.authorName ?? commit.authorName,
            authorDate: details.authorDate ?? commit.authorDate,
          };
        } catch (error) {
          // The commit id is what matters; its message and author are nice to have.
          logger.warn('commit details could not be read from GitHub', { error });
        }
      }
      logger.info('source from the trigger', { commitId: trigger.commitId });
      await store(task, trigger.commitId);
      return {
        variables: variables(task, trigger.commitId, branch, details.message, details.authorName, details.authorDate),
      };
    }

    if (!onGitHub)
      throw new SteplineError(
        ErrorName.ActionFailed,
        `a ${task.provider} source needs the commit in the start input: stepline resolves branch heads on GitHub only`,
      );
    const ref = ours ? (trigger.tag ?? trigger.branchName ?? task.branch) : task.branch;
    const head = await getCommit(await github(), task.repository, ref);
    logger.info('source from the branch head', { ref, commitId: head.sha });
    await store(task, head.sha);
    return { variables: variables(task, head.sha, branch, head.message, head.authorName, head.authorDate) };
  };
}

function variables(
  task: z.infer<typeof SourceTaskSchema>,
  commitId: string,
  branch: string,
  message: string | undefined,
  author: string | undefined,
  date: string | undefined,
): SourceVariables {
  return {
    CommitId: commitId,
    BranchName: branch,
    CommitMessage: message ?? '',
    AuthorName: author ?? '',
    AuthorDate: date ?? '',
    FullRepositoryName: task.repository,
    ProviderType: task.provider,
  };
}

export function makeSourceHandler(deps: SourceDependencies) {
  return middy(createSourceHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}

export const handler = makeSourceHandler(sourceDependencies());
