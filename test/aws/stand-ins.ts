/**
 * What the rehearsal puts in place of the AWS parts moto_server lacks, each as strict as the part it
 * stands in for:
 *
 * - GitHub's REST API (`/repos/:owner/:repo/commits/:ref`, `/tarball/:ref` with its redirect), answered
 *   from a local git repository;
 * - Step Functions' API for the functions (StartExecution, DescribeExecution, SendTask*), over HTTP with
 *   the SDK's JSON protocol, each call checked against the caller's planned policy;
 * - CodeBuild for `startBuild.sync`: the buildspec run by the local runner, sources downloaded and
 *   artifacts uploaded to S3 as the project's role (its planned statements, enforced by moto), where and
 *   how CodeBuild puts them.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runBuild } from '../../packages/local/src/build/run-build';

// ---------------------------------------------------------------------------------------------- GitHub

export interface GitHubStandIn {
  /** Every request path, in order. */
  requests: string[];
  handle(path: string, res: ServerResponse): boolean;
}

/** GitHub's API for one repository (`owner/repo`), read from a local git repository. */
export function gitHubStandIn(repository: string, repoDir: string, base: () => string): GitHubStandIn {
  const requests: string[] = [];
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoDir });
  const resolve = (ref: string) => {
    try {
      return git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).toString().trim();
    } catch {
      return undefined;
    }
  };
  return {
    requests,
    handle(path, res) {
      const m = /^\/repos\/([^/]+)\/([^/]+)\/(commits|tarball)\/(.+)$/.exec(path);
      const codeload = /^\/_codeload\/([^/]+)\/([^/]+)\/tar\.gz\/([0-9a-f]{40})$/.exec(path);
      if (!m && !codeload) return false;
      requests.push(path);
      if (codeload) {
        const [, owner, repo, sha] = codeload;
        const archive = git('archive', '--format=tar.gz', `--prefix=${owner}-${repo}-${sha?.slice(0, 7)}/`, sha ?? '');
        res.writeHead(200, { 'content-type': 'application/x-gzip' });
        res.end(archive);
        return true;
      }
      const [, owner, repo, kind, rawRef] = m as RegExpExecArray;
      const sha = `${owner}/${repo}` === repository ? resolve(decodeURIComponent(rawRef ?? '')) : undefined;
      if (!sha) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Not Found' }));
        return true;
      }
      if (kind === 'tarball') {
        // GitHub answers with a redirect to codeload.
        res.writeHead(302, { location: `${base()}/_codeload/${owner}/${repo}/tar.gz/${sha}` });
        res.end();
        return true;
      }
      const [message, name, date] = git('log', '-1', '--format=%s%n%an%n%aI', sha).toString().split('\n');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sha, commit: { message, author: { name, date } } }));
      return true;
    },
  };
}

// ------------------------------------------------------------------------------------- Step Functions

export interface SfnCall {
  principal: string;
  action: string;
  resource: string;
}

export interface SfnStandInOptions {
  /** Who signed: the IAM user behind an access key id. */
  principalOf(accessKeyId: string): string | undefined;
  /** IAM: whether the principal may do this; a denial answers AccessDeniedException, as Step Functions does. */
  authorize(call: SfnCall): Promise<string | undefined>;
  startExecution(stateMachineArn: string, name: string, input: string): Promise<{ executionArn: string; startDate: number }>;
  describeExecution(executionArn: string): { status: string; input: string; name: string; stateMachineArn: string } | undefined;
  sendTaskSuccess(token: string, output: string): boolean;
  sendTaskFailure(token: string, error: string | undefined, cause: string | undefined): boolean;
}

const sfnError = (res: ServerResponse, type: string, message: string) => {
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify({ __type: `com.amazonaws.swf.service.model.v20120823#${type}`, message }));
};

/** Step Functions' JSON 1.0 API, as the SDK client of a function calls it. */
export async function handleSfn(req: IncomingMessage, body: string, res: ServerResponse, options: SfnStandInOptions): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
  const credential = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
  const principal = options.principalOf(credential);
  if (!principal) return sfnError(res, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  const params = JSON.parse(body || '{}') as Record<string, string>;
  const resource = target === 'StartExecution' ? (params.stateMachineArn ?? '') : target === 'DescribeExecution' ? (params.executionArn ?? '') : '*';
  const denied = await options.authorize({ principal, action: `states:${target}`, resource });
  if (denied) return sfnError(res, 'AccessDeniedException', denied);
  const ok = (value: unknown) => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify(value));
  };
  switch (target) {
    case 'StartExecution': {
      try {
        const started = await options.startExecution(params.stateMachineArn ?? '', params.name ?? randomUUID(), params.input ?? '{}');
        return ok({ executionArn: started.executionArn, startDate: started.startDate / 1000 });
      } catch (error) {
        return sfnError(res, (error as Error).name, (error as Error).message);
      }
    }
    case 'DescribeExecution': {
      const found = options.describeExecution(params.executionArn ?? '');
      if (!found) return sfnError(res, 'ExecutionDoesNotExist', `Execution does not exist: '${params.executionArn}'`);
      return ok({ executionArn: params.executionArn, ...found, startDate: Date.now() / 1000 });
    }
    case 'SendTaskSuccess':
      return options.sendTaskSuccess(params.taskToken ?? '', params.output ?? '{}') ? ok({}) : sfnError(res, 'TaskDoesNotExist', 'Task does not exist');
    case 'SendTaskFailure':
      return options.sendTaskFailure(params.taskToken ?? '', params.error, params.cause) ? ok({}) : sfnError(res, 'TaskDoesNotExist', 'Task does not exist');
    case 'SendTaskHeartbeat':
      return ok({});
    default:
      return sfnError(res, 'UnknownOperationException', `${target} is not part of the rehearsal`);
  }
}

// -------------------------------------------------------------------------------------------- CodeBuild

/** A CodeBuild project as the stand-in knows it: its own source, and the S3 client of its service role. */
export interface StandInProject {
  name: string;
  source: { type: 'GITHUB' | 'S3' | 'NO_SOURCE'; repository?: string };
  s3: S3Client;
}

export interface StartBuildInput {
  ProjectName: string;
  SourceVersion?: string;
  SourceTypeOverride?: string;
  SourceLocationOverride?: string;
  BuildspecOverride?: string;
  EnvironmentVariablesOverride?: Array<{ Name: string; Value: string; Type?: string }>;
  SecondarySourcesOverride?: Array<{ Type: string; SourceIdentifier: string; Location: string }>;
  ArtifactsOverride?: { Type: string; Location?: string; Path?: string; Name?: string; NamespaceType?: string; Packaging?: string };
  SecondaryArtifactsOverride?: Array<{
    ArtifactIdentifier: string;
    Type: string;
    Location?: string;
    Path?: string;
    Name?: string;
    NamespaceType?: string;
    Packaging?: string;
  }>;
  TimeoutInMinutesOverride?: number;
}

export interface CodeBuildStandInOptions {
  projects: ReadonlyMap<string, StandInProject>;
  /** The git repository CodeBuild's GitHub source checks out. */
  repoDir: string;
  workDir: string;
  region: string;
  accountId: string;
}

const IDENTIFIER = /^[A-Za-z0-9_]+$/;

export class CodeBuildError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** `bucket/prefix/` → every object under it, written into `dir` (a CodeBuild S3 folder source). */
async function downloadFolder(s3: S3Client, location: string, dir: string): Promise<number> {
  const slash = location.indexOf('/');
  const bucket = location.slice(0, slash);
  const prefix = location.slice(slash + 1);
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? '';
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = join(dir, key.slice(prefix.length));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, (await got.Body?.transformToByteArray()) ?? new Uint8Array());
      count++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (count === 0) throw new CodeBuildError('CodeBuild.SourceDownloadFailed', `CLIENT_ERROR: no matching artifact paths found for source s3://${location}`);
  return count;
}

function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Uploads a build's artifact as CodeBuild does for packaging NONE, namespace NONE: `<location>/<path>/<name>/<file>`. */
async function uploadArtifact(s3: S3Client, dir: string, spec: NonNullable<StartBuildInput['ArtifactsOverride']>): Promise<string | undefined> {
  if (spec.Type !== 'S3') return undefined;
  if (spec.Packaging && spec.Packaging !== 'NONE') throw new CodeBuildError('CodeBuild.InvalidInputException', 'the rehearsal uploads packaging NONE only');
  const prefix = [spec.Path, spec.Name].filter((p) => p !== undefined && p !== '').join('/');
  for (const file of filesUnder(dir)) {
    await s3.send(new PutObjectCommand({ Bucket: spec.Location, Key: `${prefix}/${relative(dir, file)}`, Body: readFileSync(file) }));
  }
  return `arn:aws:s3:::${spec.Location}/${prefix}`;
}

let buildNumber = 0;

/**
 * `startBuild.sync`: runs the build to its end and answers as the integration does, `{Build}` of
 * BatchGetBuilds; a build that did not succeed fails the Task with States.TaskFailed, its cause the Build.
 */
export async function startBuildSync(raw: unknown, options: CodeBuildStandInOptions): Promise<{ Build: Record<string, unknown> }> {
  const { Build: build } = await runStandInBuild(raw as StartBuildInput, options);
  if (build.BuildStatus !== 'SUCCEEDED') throw new CodeBuildError('States.TaskFailed', JSON.stringify({ Build: build }));
  return { Build: build };
}

/** One build run to its end (or until `signal` stops it), its sources and artifacts where CodeBuild puts them: `{Build}` whatever its outcome. */
export async function runStandInBuild(
  input: StartBuildInput,
  options: CodeBuildStandInOptions,
  signal?: AbortSignal,
  id = `${input.ProjectName}:${randomUUID()}`,
): Promise<{ Build: Record<string, unknown> }> {
  const project = options.projects.get(input.ProjectName);
  if (!project) throw new CodeBuildError('CodeBuild.ResourceNotFoundException', `Project cannot be found: ${input.ProjectName}`);
  for (const s of input.SecondarySourcesOverride ?? [])
    if (!IDENTIFIER.test(s.SourceIdentifier)) throw new CodeBuildError('CodeBuild.InvalidInputException', `Invalid source identifier: ${s.SourceIdentifier}`);
  for (const a of input.SecondaryArtifactsOverride ?? [])
    if (!IDENTIFIER.test(a.ArtifactIdentifier))
      throw new CodeBuildError('CodeBuild.InvalidInputException', `Invalid artifact identifier: ${a.ArtifactIdentifier}`);

  const work = join(options.workDir, id.replace(/[^A-Za-z0-9-]/g, '_'));
  const sourceDir = join(work, 'src');
  mkdirSync(sourceDir, { recursive: true });
  const type = input.SourceTypeOverride ?? project.source.type;
  if (type === 'S3') {
    await downloadFolder(project.s3, input.SourceLocationOverride ?? '', sourceDir);
  } else if (type === 'GITHUB') {
    if (!input.SourceVersion) throw new CodeBuildError('CodeBuild.InvalidInputException', 'a GitHub source needs a SourceVersion here');
    const tar = execFileSync('git', ['archive', '--format=tar', input.SourceVersion], { cwd: options.repoDir, maxBuffer: 64 * 1024 * 1024 });
    execFileSync('tar', ['xf', '-', '-C', sourceDir], { input: tar });
  }
  const secondarySources: Record<string, string> = {};
  for (const s of input.SecondarySourcesOverride ?? []) {
    const dir = join(work, 'sources', s.SourceIdentifier);
    mkdirSync(dir, { recursive: true });
    await downloadFolder(project.s3, s.Location, dir);
    secondarySources[s.SourceIdentifier] = dir;
  }
  const outputs: { primary?: string; secondary?: Record<string, string> } = {};
  if (input.ArtifactsOverride?.Type === 'S3') outputs.primary = join(work, 'out', '_primary');
  for (const a of input.SecondaryArtifactsOverride ?? []) {
    outputs.secondary ??= {};
    outputs.secondary[a.ArtifactIdentifier] = join(work, 'out', a.ArtifactIdentifier);
  }
  const number = ++buildNumber;
  const report = await runBuild({
    sourceDir,
    buildspec: input.BuildspecOverride ?? 'buildspec.yml',
    secondarySources,
    environment: Object.fromEntries((input.EnvironmentVariablesOverride ?? []).map((v) => [v.Name, v.Value])),
    build: { id, number, ...(input.SourceVersion && { sourceVersion: input.SourceVersion, resolvedSourceVersion: input.SourceVersion }) },
    outputs,
    logFile: join(work, 'build.log'),
    ...(signal && { signal }),
  });
  // CodeBuild uploads what the build produced, whatever its outcome.
  const location = outputs.primary && input.ArtifactsOverride ? await uploadArtifact(project.s3, outputs.primary, input.ArtifactsOverride) : undefined;
  const secondary = [];
  for (const a of input.SecondaryArtifactsOverride ?? []) {
    const dir = outputs.secondary?.[a.ArtifactIdentifier];
    if (dir) secondary.push({ artifactIdentifier: a.ArtifactIdentifier, location: await uploadArtifact(project.s3, dir, a) });
  }
  const exported = Object.entries(report.exportedVariables);
  const build: Record<string, unknown> = {
    Id: id,
    Arn: `arn:aws:codebuild:${options.region}:${options.accountId}:build/${id}`,
    BuildNumber: number,
    BuildStatus: report.status === 'SUCCEEDED' ? 'SUCCEEDED' : report.status === 'STOPPED' ? 'STOPPED' : 'FAILED',
    ProjectName: project.name,
    ...(input.SourceVersion && { SourceVersion: input.SourceVersion, ResolvedSourceVersion: input.SourceVersion }),
    ...(location && { Artifacts: { Location: location } }),
    ...(secondary.length > 0 && { SecondaryArtifacts: secondary.map((s) => ({ ArtifactIdentifier: s.artifactIdentifier, Location: s.location })) }),
    // Absent from a build that exports nothing, as in CodeBuild's answer.
    ...(exported.length > 0 && { ExportedEnvironmentVariables: exported.map(([Name, Value]) => ({ Name, Value })) }),
    Logs: { GroupName: `/aws/codebuild/${project.name}`, DeepLink: report.logFile },
  };
  return { Build: build };
}
