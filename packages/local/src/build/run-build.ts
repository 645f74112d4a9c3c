/**
 * A CodeBuild-compatible build on this machine: what the CodeBuild local agent does, without Docker.
 * The buildspec's phases run in a real shell in the source directory with CodeBuild's phase
 * transitions, then artifacts, cache and reports are collected. Secrets are masked in every line
 * written and in the report.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  BUILD_PHASES,
  BuildPhase,
  type Buildspec,
  DefinitionError,
  type DefinitionIssue,
  formatIssues,
  isInlineBuildspec,
  nextPhase,
  PHASE_KEY_OF,
  PhaseStatus,
  parseBuildspecText,
} from '@stepline/core';
import { findOnPath } from '../process/find-on-path';
import { describeContainment, PidNamespace } from '../process/pid-namespace';
import type { ArtifactFile } from './artifacts';
import { BuildLog } from './build-log';
import { planCache, restoreCache } from './cache';
import { type PhaseFailure, type PhaseOutcome, runCommandPhase } from './command-phase';
import { builtinVariables } from './environment';
import { collectReports } from './reports';
import { SecretMasker } from './secret-masker';
import { resolveSecrets } from './secrets';
import { ShellSession } from './shell-session';
import { expandAll, uploadArtifacts } from './upload';

export interface RunBuildOptions {
  /** Directory holding the primary source. The build runs here (it is CODEBUILD_SRC_DIR); callers pass a fresh copy. */
  sourceDir: string;
  /** Path relative to sourceDir, an absolute path, or inline YAML text (contains a newline). @default 'buildspec.yml' */
  buildspec?: string;
  /** identifier → directory, exposed as CODEBUILD_SRC_DIR_<identifier>. */
  secondarySources?: Record<string, string>;
  /** Environment overrides (resolved pipeline variables etc.); they win over buildspec env.variables, as CodeBuild's EnvironmentVariablesOverride does. */
  environment?: Record<string, string>;
  build: { id: string; number: number; sourceVersion?: string; resolvedSourceVersion?: string; initiator?: string };
  /** Where output artifacts are copied: the primary artifact, and secondary-artifacts by identifier. No outputs → artifacts are listed but not copied. */
  outputs?: { primary?: string; secondary?: Record<string, string> };
  /** Told of each output copied, with its files' digests (unmasked), so the caller can seal it without reading it again. */
  /** Takes an output artifact's files as they are copied (the store seals them as they come). */
  onArtifact?: (destination: string, files: AsyncIterable<ArtifactFile>) => Promise<unknown>;
  /** Root under which cache.paths are kept between runs. */
  cacheDir?: string;
  /** Where secrets come from: env vars of the same name first, then this JSON file keyed by reference (e.g. "prod/db:password"). */
  secrets?: {
    file?: string;
    env?: Record<string, string | undefined>;
    /** NAME → reference, as StartBuild's PARAMETER_STORE and SECRETS_MANAGER overrides; they win over the buildspec's. */
    parameterStore?: Record<string, string>;
    secretsManager?: Record<string, string>;
  };
  /** Whole build log (all phases), secrets masked. */
  logFile: string;
  /** Live output for a terminal, secrets masked. */
  onOutput?: (text: string) => void;
  /** Aborting kills the whole process group of the running command and ends the build STOPPED. */
  signal?: AbortSignal;
}

export type BuildStatus = 'SUCCEEDED' | 'FAILED' | 'STOPPED';

export interface BuildReport {
  status: BuildStatus;
  phases: Array<{ name: BuildPhase; status: PhaseStatus; durationMs: number }>;
  exportedVariables: Record<string, string>;
  /** Each artifact by name, with its number of files. */
  artifacts: Array<{ name: string; files: number }>;
  reports: Array<{ name: string; passed: number; failed: number; skipped: number }>;
  logFile: string;
  /** What failed first, for a one-line summary: phase, the command, its exit code. */
  failure?: { phase: string; command?: string; exitCode?: number; message: string };
}

/** The buildspec's env.parameter-store and env.secrets-manager with the build's overrides applied (a name has one value). */
function withSecretOverrides(buildspec: Buildspec, secrets: RunBuildOptions['secrets']): Buildspec {
  const parameterStore = secrets?.parameterStore ?? {};
  const secretsManager = secrets?.secretsManager ?? {};
  if (Object.keys(parameterStore).length === 0 && Object.keys(secretsManager).length === 0) return buildspec;
  const without = (map: Record<string, string>, names: Record<string, string>) => Object.fromEntries(Object.entries(map).filter(([n]) => !(n in names)));
  return {
    ...buildspec,
    env: {
      ...buildspec.env,
      parameterStore: { ...without(buildspec.env.parameterStore, secretsManager), ...parameterStore },
      secretsManager: { ...without(buildspec.env.secretsManager, parameterStore), ...secretsManager },
    },
  };
}

/** The phase a failure is reported in when the build fails before its first command, as in CodeBuild. */
const PROVISIONING = 'PROVISIONING';

/**
 * Runs a build to its end and reports it. Resolves FAILED or STOPPED rather than throwing; throws a
 * `DefinitionError` only when the buildspec cannot be read or is invalid (logged first).
 */
export async function runBuild(options: RunBuildOptions): Promise<BuildReport> {
  const startTime = Date.now();
  const sourceDir = resolve(options.sourceDir);
  const log = new BuildLog(options.logFile, new SecretMasker([]), options.onOutput);
  const run = new BuildRun(options, sourceDir, log);
  try {
    log.line(`Running on ${hostname()} (stepline local build ${options.build.id})`);
    log.line(`CODEBUILD_SRC_DIR=${sourceDir}`);
    const buildspec = readBuildspec(options, sourceDir, log);
    return await run.execute(buildspec, startTime);
  } finally {
    await run.cleanUp();
    await log.close();
  }
}

function readBuildspec(options: RunBuildOptions, sourceDir: string, log: BuildLog): Buildspec {
  const given = options.buildspec ?? 'buildspec.yml';
  const inline = isInlineBuildspec(given);
  const path = inline ? undefined : isAbsolute(given) ? given : join(sourceDir, given);
  log.line(inline ? 'YAML location is the inline buildspec' : `YAML location is ${path}`);
  try {
    if (path !== undefined && !existsSync(path)) throw new DefinitionError([{ path: '', message: 'no such buildspec file' }], path);
    const parsed = parseBuildspecText(path === undefined ? given : readFileSync(path, 'utf8'), path ?? 'inline buildspec');
    for (const note of parsed.notes) log.line(`Warning: ${note.path}: ${note.message}`);
    if (!parsed.buildspec.hasPhases)
      throw new DefinitionError(
        [{ path: 'batch', message: 'this file declares only a batch of builds, no phases: run it from a build action with batchEnabled: true' }],
        path ?? 'inline buildspec',
      );
    // A build of a batch knows it is one; any other build of a file with a batch runs its phases alone.
    if (parsed.buildspec.batch && options.environment?.CODEBUILD_BATCH_BUILD_IDENTIFIER === undefined)
      log.line('Note: batch: this build runs the phases; the batch runs from a build action with batchEnabled: true', { fileOnly: true });
    return parsed.buildspec;
  } catch (error) {
    // The caller shows the error itself; the log keeps it with the build.
    if (error instanceof DefinitionError) log.line(`Phase context status code: YAML_FILE_ERROR Message: ${error.message}`, { fileOnly: true });
    throw error;
  }
}

class BuildRun {
  private readonly options: RunBuildOptions;
  private readonly sourceDir: string;
  private readonly log: BuildLog;
  private masker = new SecretMasker([]);
  private stateDir: string | undefined;
  private session: ShellSession | undefined;
  private readonly phases = new Map<BuildPhase, { status: PhaseStatus; durationMs: number }>();
  private failure: BuildReport['failure'];
  private artifactsOf: BuildReport['artifacts'] = [];
  /** stepline's own directory when a build runs in place: never an artifact, a cache entry or a report. */
  private readonly skipDirs: string[];

  constructor(options: RunBuildOptions, sourceDir: string, log: BuildLog) {
    this.options = options;
    this.sourceDir = sourceDir;
    this.log = log;
    this.skipDirs = [join(sourceDir, '.stepline')];
  }

  async execute(buildspec: Buildspec, startTime: number): Promise<BuildReport> {
    const { options, log } = this;
    const hostEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
    const overrides = options.environment ?? {};
    const secrets = resolveSecrets(
      withSecretOverrides(buildspec, options.secrets),
      { ...(options.secrets?.file ? { file: options.secrets.file } : {}), env: options.secrets?.env ?? process.env },
      new Set(Object.keys(overrides)),
    );
    this.masker = new SecretMasker(Object.values(secrets.values));
    log.useMasker(this.masker);
    if (secrets.problems.length > 0) return this.failBeforeCommands('SECRETS_ERROR', secrets.problems);

    const env: Record<string, string> = {
      ...hostEnv,
      ...builtinVariables({ sourceDir: this.sourceDir, secondarySources: options.secondarySources ?? {}, build: options.build, startTime, hostEnv }),
      ...buildspec.env.variables,
      ...secrets.values,
      ...overrides,
    };
    // CodeBuild runs /bin/sh unless env.shell says otherwise; locally bash is the default when there is
    // one, since most buildspecs are written and tried in bash (`source`, `[[ ]]`).
    const wanted = buildspec.env.shell === 'sh' ? ['sh', '/bin/sh'] : buildspec.env.shell === 'bash' ? ['bash'] : ['bash', 'sh', '/bin/sh'];
    const shell = findOnPath(wanted, env.PATH);
    if (!shell) return this.failBeforeCommands('CLIENT_ERROR', [{ path: 'env.shell', message: `${wanted[0]} is not on this machine's PATH` }]);

    this.stateDir = mkdtempSync(join(tmpdir(), 'stepline-build-'));
    this.skipDirs.push(this.stateDir);
    const { namespace, containment } = await PidNamespace.start();
    const session = new ShellSession({
      shell,
      env,
      cwd: this.sourceDir,
      stateDir: this.stateDir,
      carryState: buildspec.version === '0.2',
      ...(namespace ? { namespace } : {}),
    });
    this.session = session;
    log.line(`Running commands with ${shell}`);
    log.line(describeContainment(containment));
    await this.restoreCache(buildspec, session);

    let stopped = false;
    let phase: BuildPhase | undefined = BuildPhase.Install;
    while (phase) {
      if (options.signal?.aborted) {
        stopped = true;
        this.record(phase, PhaseStatus.Stopped, 0, { message: 'Build stopped' });
        break;
      }
      log.line(`Entering phase ${phase}`);
      const started = performance.now();
      const outcome = await this.runPhase(phase, buildspec, session);
      this.record(phase, outcome.status, performance.now() - started, outcome.failure);
      log.line(`Phase complete: ${phase} State: ${outcome.status}`);
      log.line(`Phase context status code: ${outcome.failure ? statusCode(outcome.failure) : ''} Message: ${outcome.failure?.message ?? ''}`);
      if (outcome.status === 'STOPPED') {
        stopped = true;
        break;
      }
      const key = PHASE_KEY_OF[phase];
      phase = nextPhase(phase, outcome.status, key ? buildspec.phases[key]?.onFailure : undefined);
    }

    // Exported variables are the values at the end of the build (CodeBuild: once POST_BUILD is over).
    const exportedVariables = Object.fromEntries(buildspec.env.exportedVariables.map((name) => [name, session.env[name] ?? '']));
    const reports = stopped ? [] : await collectReports({ buildspec, sourceDir: this.sourceDir, session, log, skipDirs: this.skipDirs });
    const failed = [...this.phases.values()].some((p) => p.status === PhaseStatus.Failed);
    const status: BuildStatus = stopped ? 'STOPPED' : failed ? 'FAILED' : 'SUCCEEDED';
    log.line(`Build ${status}`);
    return this.report(status, { exportedVariables, reports });
  }

  private async runPhase(phase: BuildPhase, buildspec: Buildspec, session: ShellSession): Promise<PhaseOutcome> {
    if (phase === BuildPhase.UploadArtifacts) {
      const outcome = await uploadArtifacts({
        buildspec,
        sourceDir: this.sourceDir,
        session,
        log: this.log,
        ...(this.options.outputs ? { outputs: this.options.outputs } : {}),
        ...(this.options.onArtifact ? { onArtifact: this.options.onArtifact } : {}),
        ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
        skipDirs: this.skipDirs,
      });
      this.artifactsOf = outcome.artifacts;
      return outcome;
    }
    const key = PHASE_KEY_OF[phase];
    return runCommandPhase(key ? buildspec.phases[key] : undefined, session, this.log, this.options.signal, () => {
      session.env.CODEBUILD_BUILD_SUCCEEDING = '0';
    });
  }

  private async restoreCache(buildspec: Buildspec, session: ShellSession): Promise<void> {
    const cacheDir = this.options.cacheDir;
    if (!cacheDir || buildspec.cache.paths.length === 0) return;
    try {
      const paths = (await expandAll(buildspec.cache.paths, { session, sourceDir: this.sourceDir, log: this.log })) ?? buildspec.cache.paths;
      const restored = restoreCache(planCache(paths, this.sourceDir), this.sourceDir, cacheDir);
      this.log.line(`Restored ${restored} file(s) from the local cache`);
    } catch (error) {
      this.log.line(`Warning: could not restore the cache: ${(error as Error).message}`);
    }
  }

  /** Secrets or the shell are missing: the build fails before its first command, naming what is missing. */
  private failBeforeCommands(code: string, problems: readonly DefinitionIssue[]): BuildReport {
    const message = formatIssues(problems);
    this.log.line(`Phase context status code: ${code} Message: ${message}`);
    this.failure = { phase: PROVISIONING, message };
    this.log.line('Build FAILED');
    return this.report('FAILED', { exportedVariables: {}, reports: [] });
  }

  private record(phase: BuildPhase, status: PhaseStatus, durationMs: number, failure?: PhaseFailure): void {
    this.phases.set(phase, { status, durationMs: Math.round(durationMs) });
    if (failure && !this.failure) this.failure = { phase, ...failure };
  }

  private report(status: BuildStatus, rest: Pick<BuildReport, 'exportedVariables' | 'reports'>): BuildReport {
    const report: BuildReport = {
      status,
      phases: BUILD_PHASES.map((name) => ({ name, ...(this.phases.get(name) ?? { status: PhaseStatus.Skipped, durationMs: 0 }) })),
      exportedVariables: rest.exportedVariables,
      artifacts: this.artifactsOf,
      reports: rest.reports,
      logFile: this.options.logFile,
    };
    if (this.failure) report.failure = this.failure;
    return this.masker.maskDeep(report);
  }

  /** Stops what the build left running and removes its private state (which holds secrets). */
  async cleanUp(): Promise<void> {
    if (this.session) {
      const left = await this.session.stopAll();
      if (left > 0) this.log.line(`Stopped ${left} process group(s) the build left running`);
    }
    if (this.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** CodeBuild's phase context status code for a failure. */
function statusCode(failure: PhaseFailure): string {
  return failure.command !== undefined ? 'COMMAND_EXECUTION_ERROR' : 'CLIENT_ERROR';
}
