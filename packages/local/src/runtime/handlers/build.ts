import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailedError, type CodeBuildRun, codeBuildIdentifier, ErrorName, SteplineError } from '@stepline/core';
import type { ArtifactFile } from '../../build/artifacts';
import { type BuildReport, runBuild } from '../../build/index';
import { actionDirs, type ExecutionContext, fileSafe, throwIfStopped } from '../context';

/** The CodeBuild StartBuild (and StartBuildBatch) parameters the compiled Task sends (the ones the local build reads). */
export interface StartBuildParameters {
  ProjectName: string;
  SourceVersion?: string;
  TimeoutInMinutesOverride?: number;
  /** StartBuildBatch's name for each build's timeout. */
  BuildTimeoutInMinutesOverride?: number;
  BuildspecOverride?: string;
  EnvironmentVariablesOverride?: Array<{ Name: string; Value: string; Type?: string }>;
}

/** The last lines of a log file, for a failure message that shows what went wrong. */
export async function logTail(file: string | undefined, lines = 12): Promise<string[]> {
  if (!file) return [];
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** One build of a build action: where it works and logs, what it runs and where its outputs go. */
export interface ActionBuildOptions {
  params: StartBuildParameters;
  /** A fresh directory: the primary source is copied to `src/`, secondary ones to `sources/`. */
  work: string;
  logFile: string;
  buildspec: string;
  /** PLAINTEXT variables, as StartBuild's EnvironmentVariablesOverride: they win over the buildspec's. */
  environment: Record<string, string>;
  outputs: { primary?: string; secondary?: Record<string, string> };
  /** Takes an output's files as the build copies them into `destination` (the store seals them as they come). */
  onArtifact?: (destination: string, files: AsyncIterable<ArtifactFile>) => Promise<unknown>;
  /** Which build of its batch this is, recorded with it. */
  batch?: { identifier: string; dependsOn: string[]; ignoreFailure: boolean };
  /** Ends the build STOPPED beside the execution's own signal (a batch's fast-fail). */
  signal?: AbortSignal;
  timeoutMinutes: number;
}

export interface ActionBuildResult {
  report: BuildReport;
  buildId: string;
  number: number;
  /** Why the build did not succeed, in one line with its log; absent when it succeeded. */
  failure?: string;
}

/**
 * Runs one build of an action in a fresh copy of its primary input artifact (verified against its
 * manifest), secondary inputs beside it, and records it in the history while it runs and when it ends.
 */
export async function runActionBuild(ctx: ExecutionContext, action: CodeBuildRun, stage: string, o: ActionBuildOptions): Promise<ActionBuildResult> {
  const { params } = o;
  const pipeline = ctx.pipeline.name;
  const primary = action.primarySource ?? action.inputArtifacts[0] ?? '';
  const sourceDir = join(o.work, 'src');
  await ctx.artifacts.copyTo(pipeline, ctx.executionId, primary, sourceDir);
  const secondarySources: Record<string, string> = {};
  // Known to the build by CodeBuild's identifier (letters, digits and _), as on AWS.
  for (const name of action.inputArtifacts.filter((a) => a !== primary)) {
    const dir = join(o.work, 'sources', name);
    secondarySources[codeBuildIdentifier(name)] = dir;
    await ctx.artifacts.copyTo(pipeline, ctx.executionId, name, dir);
  }

  const number = ctx.store.nextBuildNumber(params.ProjectName);
  const buildId = `${params.ProjectName}:${randomUUID()}`;
  const startedAt = new Date().toISOString();
  const overrides = params.EnvironmentVariablesOverride ?? [];
  const ofType = (type: string) => Object.fromEntries(overrides.filter((v) => (v.Type ?? 'PLAINTEXT') === type).map((v) => [v.Name, v.Value]));
  throwIfStopped(ctx, `build of ${action.name}`);
  const record = {
    executionId: ctx.executionId,
    stage,
    action: action.name,
    buildId,
    startedAt,
    ...(o.batch !== undefined && { batch: o.batch }),
  };
  // Recorded while it runs, so the console can stream its log; replaced when it ends.
  ctx.store.saveBuild({ ...record, status: 'IN_PROGRESS', logFile: o.logFile, phases: [], reports: [] });
  // CodeBuild ends a build that outlives its timeout: so does the local build.
  const timeout = AbortSignal.timeout(o.timeoutMinutes * 60_000);
  const report = await runBuild({
    sourceDir,
    buildspec: o.buildspec,
    secondarySources,
    environment: o.environment,
    build: { id: buildId, number, sourceVersion: params.SourceVersion, resolvedSourceVersion: params.SourceVersion, initiator: `stepline/${pipeline}` },
    outputs: o.outputs,
    ...(o.onArtifact && { onArtifact: o.onArtifact }),
    cacheDir: join(ctx.paths.state, 'cache', fileSafe(params.ProjectName)),
    secrets: {
      file: join(ctx.paths.state, 'secrets.json'),
      env: process.env,
      parameterStore: ofType('PARAMETER_STORE'),
      secretsManager: ofType('SECRETS_MANAGER'),
    },
    logFile: o.logFile,
    ...(ctx.output && { onOutput: ctx.output }),
    signal: AbortSignal.any([ctx.signal, timeout, ...(o.signal ? [o.signal] : [])]),
  });
  ctx.store.saveBuild({
    ...record,
    status: report.status,
    logFile: report.logFile,
    phases: report.phases,
    reports: report.reports,
    endedAt: new Date().toISOString(),
  });
  const result: ActionBuildResult = { report, buildId, number };
  if (report.status === 'STOPPED' && timeout.aborted && !ctx.signal.aborted)
    result.failure = `the build timed out after ${o.timeoutMinutes} minutes — log: ${report.logFile}`;
  else if (report.status === 'STOPPED') result.failure = `build ${buildId} was stopped`;
  else if (report.status !== 'SUCCEEDED') {
    const f = report.failure;
    const where = f ? `${f.phase}${f.command ? `: ${f.command}` : ''}${f.exitCode !== undefined ? ` exited with ${f.exitCode}` : ''}` : 'the build failed';
    result.failure = `${where}${f?.message && !f.command ? ` (${f.message})` : ''} — log: ${report.logFile}`;
  }
  return result;
}

/** The PLAINTEXT variables of a StartBuild (or StartBuildBatch) call. */
export const plainVariables = (params: StartBuildParameters) =>
  Object.fromEntries((params.EnvironmentVariablesOverride ?? []).filter((v) => (v.Type ?? 'PLAINTEXT') === 'PLAINTEXT').map((v) => [v.Name, v.Value]));

/**
 * Seals the outputs CodeBuild would have uploaded that the build did not seal as it copied them (a
 * build that failed before its upload, a batch's combined artifact), whatever the build's outcome, and
 * records them all.
 */
export async function sealOutputs(ctx: ExecutionContext, names: readonly string[], sealed: ReadonlyMap<string, number> = new Map()): Promise<void> {
  const pipeline = ctx.pipeline.name;
  for (const name of names) {
    const dir = ctx.artifacts.dir(pipeline, ctx.executionId, name);
    let files = sealed.get(name);
    if (files === undefined) {
      if (ctx.artifacts.exists(pipeline, ctx.executionId, name)) continue;
      files = (await ctx.artifacts.seal(pipeline, ctx.executionId, name)).files;
    }
    ctx.store.recordArtifact(ctx.executionId, name, dir, files, new Date().toISOString());
  }
}

/**
 * A build, test or commands action on one machine: the CodeBuild-compatible runner in a fresh copy of the
 * primary input artifact (verified against its manifest), secondary inputs beside it, outputs
 * sealed as artifacts. Answers as `startBuild.sync` does: `{Build: {...}}`, or fails the Task.
 */
export function buildHandler(ctx: ExecutionContext, action: CodeBuildRun, stage: string) {
  return async (input: unknown) => {
    const params = input as StartBuildParameters;
    const pipeline = ctx.pipeline.name;
    const { work, logFile } = await actionDirs(ctx, stage, action.name);
    const [first, ...more] = action.outputArtifacts;
    const outputs: { primary?: string; secondary?: Record<string, string> } = {};
    // The build hashes its outputs as it copies them, and they are sealed as they come: no second read.
    const nameOf = new Map<string, string>();
    const prepare = async (name: string) => {
      const dir = await ctx.artifacts.prepare(pipeline, ctx.executionId, name);
      nameOf.set(dir, name);
      return dir;
    };
    if (first) outputs.primary = await prepare(first);
    if (more.length > 0) {
      outputs.secondary = {};
      for (const name of more) outputs.secondary[codeBuildIdentifier(name)] = await prepare(name);
    }
    const sealed = new Map<string, number>();
    const seal = async (destination: string, files: AsyncIterable<ArtifactFile>) => {
      const name = nameOf.get(destination);
      if (name === undefined) throw new Error(`no output artifact is copied to ${destination}`);
      sealed.set(name, (await ctx.artifacts.seal(pipeline, ctx.executionId, name, files)).files);
    };
    const { report, buildId, number, failure } = await runActionBuild(ctx, action, stage, {
      params,
      work,
      logFile,
      buildspec: params.BuildspecOverride ?? action.buildspec,
      environment: plainVariables(params),
      outputs,
      onArtifact: seal,
      timeoutMinutes: params.TimeoutInMinutesOverride ?? action.timeoutMinutes ?? 60,
    });
    // CodeBuild uploads artifacts whatever the build's outcome; a failed build's are sealed too.
    await sealOutputs(ctx, action.outputArtifacts, sealed);

    if (report.status === 'STOPPED' && ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `build ${buildId} was stopped`);
    if (failure !== undefined) throw new BuildFailedError(failure);
    return {
      Build: {
        Id: buildId,
        BuildNumber: number,
        BuildStatus: 'SUCCEEDED',
        SourceVersion: params.SourceVersion,
        ExportedEnvironmentVariables: Object.entries(report.exportedVariables).map(([Name, Value]) => ({ Name, Value })),
        Logs: { DeepLink: report.logFile },
        Phases: report.phases.map((p) => ({ PhaseType: p.name, PhaseStatus: p.status, DurationInSeconds: Math.round(p.durationMs / 1000) })),
      },
    };
  };
}
