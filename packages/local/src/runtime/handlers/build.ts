import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildAction, BuildFailedError, codeBuildIdentifier, ErrorName, SteplineError } from '@stepline/core';
import type { ArtifactFile } from '../../build/artifacts';
import { runBuild } from '../../build/index';
import { actionDirs, type ExecutionContext, fileSafe } from '../context';

/** The CodeBuild StartBuild parameters the compiled Task sends (the ones the local build reads). */
interface StartBuildParameters {
  ProjectName: string;
  SourceVersion?: string;
  TimeoutInMinutesOverride?: number;
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

/**
 * A build or test action on one machine: the CodeBuild-compatible runner in a fresh copy of the
 * primary input artifact (verified against its manifest), secondary inputs beside it, outputs
 * sealed as artifacts. Answers as `startBuild.sync` does: `{Build: {...}}`, or fails the Task.
 */
export function buildHandler(ctx: ExecutionContext, action: BuildAction, stage: string) {
  return async (input: unknown) => {
    const params = input as StartBuildParameters;
    const pipeline = ctx.pipeline.name;
    const { work, logFile } = await actionDirs(ctx, stage, action.name);
    const primary = action.primarySource ?? action.inputArtifacts[0] ?? '';
    const sourceDir = join(work, 'src');
    await ctx.artifacts.copyTo(pipeline, ctx.executionId, primary, sourceDir);
    const secondarySources: Record<string, string> = {};
    // Known to the build by CodeBuild's identifier (letters, digits and _), as on AWS.
    for (const name of action.inputArtifacts.filter((a) => a !== primary)) {
      const dir = join(work, 'sources', name);
      secondarySources[codeBuildIdentifier(name)] = dir;
      await ctx.artifacts.copyTo(pipeline, ctx.executionId, name, dir);
    }
    const [first, ...more] = action.outputArtifacts;
    const outputs: { primary?: string; secondary?: Record<string, string> } = {};
    if (first) outputs.primary = await ctx.artifacts.prepare(pipeline, ctx.executionId, first);
    if (more.length > 0) {
      outputs.secondary = {};
      for (const name of more) outputs.secondary[codeBuildIdentifier(name)] = await ctx.artifacts.prepare(pipeline, ctx.executionId, name);
    }

    // The build hashes its outputs as it copies them; sealing them needs no second read.
    const copied = new Map<string, ArtifactFile[]>();

    const number = ctx.store.nextBuildNumber(params.ProjectName);
    const buildId = `${params.ProjectName}:${randomUUID()}`;
    const startedAt = new Date().toISOString();
    const overrides = params.EnvironmentVariablesOverride ?? [];
    const ofType = (type: string) => Object.fromEntries(overrides.filter((v) => (v.Type ?? 'PLAINTEXT') === type).map((v) => [v.Name, v.Value]));
    const environment = ofType('PLAINTEXT');
    if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `build of ${action.name} was stopped before it started`);
    // CodeBuild ends a build that outlives its timeout: so does the local build.
    // Recorded while it runs, so the console can stream its log; replaced when it ends.
    ctx.store.saveBuild({
      executionId: ctx.executionId,
      stage,
      action: action.name,
      buildId,
      status: 'IN_PROGRESS',
      logFile,
      phases: [],
      reports: [],
      startedAt,
    });
    const minutes = params.TimeoutInMinutesOverride ?? action.timeoutMinutes ?? 60;
    const timeout = AbortSignal.timeout(minutes * 60_000);
    const report = await runBuild({
      sourceDir,
      buildspec: params.BuildspecOverride ?? action.buildspec,
      secondarySources,
      environment,
      build: { id: buildId, number, sourceVersion: params.SourceVersion, resolvedSourceVersion: params.SourceVersion, initiator: `stepline/${pipeline}` },
      outputs,
      onArtifact: (destination, files) => copied.set(destination, files),
      cacheDir: join(ctx.paths.state, 'cache', fileSafe(params.ProjectName)),
      secrets: {
        file: join(ctx.paths.state, 'secrets.json'),
        env: process.env,
        parameterStore: ofType('PARAMETER_STORE'),
        secretsManager: ofType('SECRETS_MANAGER'),
      },
      logFile,
      ...(ctx.output && { onOutput: ctx.output }),
      signal: AbortSignal.any([ctx.signal, timeout]),
    });

    // CodeBuild uploads artifacts whatever the build's outcome; a failed build's are sealed too.
    for (const name of action.outputArtifacts) {
      if (ctx.artifacts.exists(pipeline, ctx.executionId, name)) continue;
      const dir = ctx.artifacts.dir(pipeline, ctx.executionId, name);
      const manifest = await ctx.artifacts.seal(pipeline, ctx.executionId, name, copied.get(dir));
      ctx.store.recordArtifact(ctx.executionId, name, dir, manifest.files, new Date().toISOString());
    }
    ctx.store.saveBuild({
      executionId: ctx.executionId,
      stage,
      action: action.name,
      buildId,
      status: report.status,
      logFile: report.logFile,
      phases: report.phases,
      reports: report.reports,
      startedAt,
      endedAt: new Date().toISOString(),
    });

    if (report.status === 'STOPPED' && timeout.aborted && !ctx.signal.aborted) {
      throw new BuildFailedError(`the build timed out after ${minutes} minutes — log: ${report.logFile}`);
    }
    if (report.status === 'STOPPED') throw new SteplineError(ErrorName.Stopped, `build ${buildId} was stopped`);
    if (report.status !== 'SUCCEEDED') {
      const f = report.failure;
      const where = f ? `${f.phase}${f.command ? `: ${f.command}` : ''}${f.exitCode !== undefined ? ` exited with ${f.exitCode}` : ''}` : 'the build failed';
      throw new BuildFailedError(`${where}${f?.message && !f.command ? ` (${f.message})` : ''} — log: ${report.logFile}`);
    }
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
