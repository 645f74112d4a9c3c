import { appendFile, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  type BatchBuild,
  type BuildAction,
  type BuildBatch,
  BuildFailedError,
  DefinitionError,
  ErrorName,
  parseBuildspecText,
  SteplineError,
} from '@stepline/core';
import { actionDirs, type ExecutionContext, fileSafe } from '../context';
import { plainVariables, runActionBuild, type StartBuildParameters, sealOutputs } from './build';

/** How one build of the batch ended; `NOT_STARTED` when a build it depends on failed or fast-fail stopped the batch. */
type GroupStatus = 'SUCCEEDED' | 'FAILED' | 'STOPPED' | 'NOT_STARTED';

interface Group {
  build: BatchBuild;
  status?: GroupStatus;
  buildId?: string;
  failure?: string;
}

/**
 * A batch build action (`batchEnabled`) on one machine, as CodeBuild runs a batch: the buildspec's
 * `batch` expanded into builds, run in parallel as far as the cores allow and `depend-on` permits, each
 * in a fresh copy of the source, with its own log and its own record in the history. A build starts
 * once every build it depends on has succeeded (or failed with `ignore-failure`); with `fast-fail`, the
 * first failure stops the running builds and starts no more. With `combineArtifacts`, every build's
 * primary artifact goes into the action's one output artifact, in a folder named by its identifier.
 *
 * Answers as `startBuildBatch.sync` is taken to (see `batchCall` in core's compiler/actions/build.ts
 * for the documents behind that shape): `{BuildBatch: {...}}` with a build group per build, or fails
 * the Task naming the builds that failed.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html
 */
export function buildBatchHandler(ctx: ExecutionContext, action: BuildAction, stage: string) {
  return async (input: unknown) => {
    const params = input as StartBuildParameters;
    const pipeline = ctx.pipeline.name;
    const { work, logFile } = await actionDirs(ctx, stage, action.name);
    const log = (line: string) => appendFile(logFile, `[${new Date().toISOString()}] ${line}\n`);
    const batch = await readBatch(ctx, action, params, join(work, 'batch-src'));
    await log(`batch of ${batch.builds.length} builds (${batch.type}${batch.fastFail ? ', fast-fail' : ''})`);

    const [combined] = action.combineArtifacts ? action.outputArtifacts : [];
    const combinedDir = combined === undefined ? undefined : await ctx.artifacts.prepare(pipeline, ctx.executionId, combined);

    const stopAll = new AbortController();
    const groups = new Map(batch.builds.map((build) => [build.identifier, { build } as Group]));
    const running = new Map<string, Promise<void>>();
    const limit = Math.max(1, availableParallelism());

    const runGroup = async (group: Group) => {
      try {
        await runOne(group);
      } catch (error) {
        // A build that could not start (its buildspec unreadable, the execution stopped) fails as itself.
        group.status = 'FAILED';
        group.failure = error instanceof Error ? error.message : String(error);
        await log(`build ${group.build.identifier} FAILED: ${group.failure}`);
        if (!group.build.ignoreFailure && batch.fastFail) stopAll.abort();
      }
    };
    const runOne = async (group: Group) => {
      const { build } = group;
      const id = fileSafe(build.identifier);
      await log(`build ${build.identifier} started${build.label ? ` (${build.label})` : ''}`);
      const outcome = await runActionBuild(ctx, action, stage, {
        params,
        work: join(work, 'builds', id),
        logFile: logFile.replace(/\.log$/, `.${id}.log`),
        buildspec: build.buildspec ?? params.BuildspecOverride ?? action.buildspec,
        // The batch's variables win over the action's, and CodeBuild tells each build who it is.
        environment: { ...plainVariables(params), ...build.variables, CODEBUILD_BATCH_BUILD_IDENTIFIER: build.identifier },
        outputs: combinedDir === undefined ? {} : { primary: join(combinedDir, build.identifier) },
        batch: { identifier: build.identifier, dependsOn: build.dependOn, ignoreFailure: build.ignoreFailure },
        signal: stopAll.signal,
        timeoutMinutes: params.BuildTimeoutInMinutesOverride ?? action.timeoutMinutes ?? 60,
      });
      group.buildId = outcome.buildId;
      group.status = outcome.report.status === 'SUCCEEDED' ? 'SUCCEEDED' : outcome.report.status === 'STOPPED' ? 'STOPPED' : 'FAILED';
      if (outcome.failure !== undefined) group.failure = outcome.failure;
      await log(`build ${build.identifier} ${group.status}${group.failure ? `: ${group.failure}` : ''}`);
      if (group.status !== 'SUCCEEDED' && !build.ignoreFailure && batch.fastFail) stopAll.abort();
    };

    /** A build may start when every build it depends on ended well (or may fail); it never will when one did not. */
    const readiness = (group: Group): 'ready' | 'wait' | 'never' => {
      for (const dependency of group.build.dependOn) {
        const other = groups.get(dependency);
        if (other?.status === undefined) return 'wait';
        if (other.status !== 'SUCCEEDED' && !other.build.ignoreFailure) return 'never';
      }
      return 'ready';
    };

    for (;;) {
      if (stopAll.signal.aborted || ctx.signal.aborted) {
        for (const group of groups.values()) if (group.status === undefined && !running.has(group.build.identifier)) group.status = 'NOT_STARTED';
      }
      for (const group of groups.values()) {
        if (group.status !== undefined || running.has(group.build.identifier)) continue;
        const ready = readiness(group);
        if (ready === 'never') group.status = 'NOT_STARTED';
        else if (ready === 'ready' && running.size < limit) {
          const id = group.build.identifier;
          running.set(
            id,
            runGroup(group).finally(() => running.delete(id)),
          );
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }

    // The builds copied their outputs under the combined artifact's directory; it is hashed once they all ended.
    if (combined !== undefined) await sealOutputs(ctx, [combined]);
    const all = [...groups.values()];
    for (const group of all) if (group.status === 'NOT_STARTED') await log(`build ${group.build.identifier} not started`);
    if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `batch of ${action.name} was stopped`);
    const failed = all.filter((g) => g.status !== 'SUCCEEDED' && !g.build.ignoreFailure);
    if (failed.length > 0) {
      const what = failed.map((g) => `${g.build.identifier} ${g.status}${g.failure ? ` (${g.failure})` : ''}`).join('; ');
      throw new BuildFailedError(`the batch failed: ${what} — log: ${logFile}`);
    }
    return {
      BuildBatch: {
        Id: `${params.ProjectName}:batch-${ctx.executionId}`,
        BuildBatchStatus: 'SUCCEEDED',
        SourceVersion: params.SourceVersion,
        BuildGroups: all.map((g) => ({
          Identifier: g.build.identifier,
          DependsOn: g.build.dependOn,
          IgnoreFailure: g.build.ignoreFailure,
          ...(g.buildId !== undefined && { CurrentBuildSummary: { Arn: g.buildId, BuildStatus: g.status } }),
        })),
      },
    };
  };
}

/** The batch the action's buildspec declares, read from a verified copy of the primary source. */
async function readBatch(ctx: ExecutionContext, action: BuildAction, params: StartBuildParameters, dir: string): Promise<BuildBatch> {
  const primary = action.primarySource ?? action.inputArtifacts[0] ?? '';
  await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, primary, dir);
  const given = params.BuildspecOverride ?? action.buildspec;
  const inline = given.includes('\n');
  const name = inline ? 'inline buildspec' : given;
  let text = given;
  if (!inline) {
    try {
      text = await readFile(join(dir, given), 'utf8');
    } catch {
      throw new DefinitionError([{ path: '', message: `no such buildspec file in ${primary}` }], name);
    }
  }
  const { batch } = parseBuildspecText(text, name).buildspec;
  if (!batch) throw new DefinitionError([{ path: 'batch', message: 'missing: the action has batchEnabled: true, and its buildspec declares no batch' }], name);
  if (batch.builds.length === 0) throw new DefinitionError([{ path: `batch.${batch.type}`, message: 'the batch declares no builds' }], name);
  return batch;
}
