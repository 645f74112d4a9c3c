/**
 * The CodeDeploy agent on one machine: an in-place deployment into a directory that stands for an
 * instance's file system root. Like the agent it keeps each revision under
 * `<root>/opt/codedeploy-agent/deployment-root/<application>/<group>/<deployment>/deployment-archive`,
 * runs the stop scripts of the last successful revision, removes the files the last install wrote,
 * copies the new ones as appspec `files` says, and runs every other event's scripts in order, each
 * with its timeout. A failure redeploys the last successful revision the same way.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-server
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import {
  type AppSpec,
  DefinitionError,
  DeploymentRolledBackError,
  ErrorName,
  eventScripts,
  FileExistsBehavior,
  installPlan,
  LIFECYCLE_ORDER,
  LifecycleEvent,
  parseAppSpec,
  permissionChanges,
  SteplineError,
} from '@stepline/core';
import { runLogged } from '../process/run-logged';
import { fileSafe } from '../runtime/context';

export interface LocalDeploymentOptions {
  /** The directory standing for the instance's `/`. */
  root: string;
  applicationName: string;
  deploymentGroupName: string;
  deploymentId: string;
  /** Path of the AppSpec file in the revision. */
  appspec: string;
  autoRollback: boolean;
  /** Writes the revision's files into the directory given (the DownloadBundle event). */
  download(into: string): Promise<void>;
  logFile: string;
  signal: AbortSignal;
  output?: (text: string) => void;
}

export interface LocalDeploymentResult {
  deploymentId: string;
  /** Files written on the instance, as absolute paths on it. */
  installed: string[];
}

interface Record {
  deploymentId: string;
}

/** Where the agent keeps one deployment group's revisions on the instance. */
const deploymentRoot = (o: Pick<LocalDeploymentOptions, 'root' | 'applicationName' | 'deploymentGroupName'>) =>
  join(o.root, 'opt', 'codedeploy-agent', 'deployment-root', fileSafe(o.applicationName), fileSafe(o.deploymentGroupName));

const readJson = async <T>(file: string): Promise<T | undefined> => {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** A path on the instance, inside the local root. */
const onInstance = (root: string, path: string) => join(root, path);

/** Deploys a revision; when that fails, redeploys the last successful one and fails with Stepline.DeploymentRolledBack. */
export async function deployInPlace(o: LocalDeploymentOptions): Promise<LocalDeploymentResult> {
  const log = createWriteStream(o.logFile, { flags: 'a' });
  try {
    const groupRoot = deploymentRoot(o);
    const lastGood = await readJson<Record>(join(groupRoot, 'last-successful.json'));
    try {
      return await deployRevision(o, log, o.deploymentId, o.download);
    } catch (error) {
      if (o.signal.aborted || error instanceof DefinitionError) throw error;
      const reason = (error as Error).message;
      if (!o.autoRollback) throw new SteplineError(ErrorName.ActionFailed, `${reason}; automatic rollback is off`, { cause: error });
      if (!lastGood)
        throw new SteplineError(ErrorName.ActionFailed, `${reason}; no earlier revision deployed successfully, so there is nothing to roll back to`);
      write(log, o, `\n== rollback: redeploying ${lastGood.deploymentId}, the last successful revision\n`);
      const kept = join(groupRoot, lastGood.deploymentId, 'deployment-archive');
      try {
        await deployRevision(o, log, `${o.deploymentId}-rollback`, (into) => copyTree(kept, into));
      } catch (rollbackError) {
        throw new SteplineError(ErrorName.ActionFailed, `${reason}; the rollback failed too: ${(rollbackError as Error).message}`, { cause: rollbackError });
      }
      throw new DeploymentRolledBackError(`${reason}; rolled back to ${lastGood.deploymentId}`, { cause: error });
    }
  } finally {
    await new Promise((r) => log.end(r));
  }
}

function write(log: WriteStream, o: Pick<LocalDeploymentOptions, 'output'>, text: string): void {
  log.write(text);
  o.output?.(text);
}

async function deployRevision(
  o: LocalDeploymentOptions,
  log: WriteStream,
  deploymentId: string,
  download: (into: string) => Promise<void>,
): Promise<LocalDeploymentResult> {
  const groupRoot = deploymentRoot(o);
  const archive = join(groupRoot, deploymentId, 'deployment-archive');
  const previous = await readJson<Record>(join(groupRoot, 'last-successful.json'));
  const previousArchive = previous && join(groupRoot, previous.deploymentId, 'deployment-archive');
  const previousSpec = previousArchive ? await readAppSpec(previousArchive, o.appspec).catch(() => undefined) : undefined;
  let spec: AppSpec | undefined;
  let installed: string[] = [];
  const env = { APPLICATION_NAME: o.applicationName, DEPLOYMENT_GROUP_NAME: o.deploymentGroupName, DEPLOYMENT_ID: deploymentId, STEPLINE_ROOT: o.root };

  // The stop events need only the previous revision; the current appspec is read once it is downloaded.
  for (const event of LIFECYCLE_ORDER) {
    if (o.signal.aborted) throw new SteplineError(ErrorName.Stopped, 'the deployment was stopped');
    write(log, o, `== ${event}\n`);
    if (event === LifecycleEvent.DownloadBundle) {
      await rm(archive, { recursive: true, force: true });
      await mkdir(archive, { recursive: true });
      // The store checks every file against the artifact's manifest, as the instance's sha256sum does on AWS.
      await download(archive).catch((error: unknown) => {
        throw new SteplineError(ErrorName.ActionFailed, `DownloadBundle: ${(error as Error).message}`, { cause: error });
      });
      spec = await readAppSpec(archive, o.appspec);
      continue;
    }
    if (event === LifecycleEvent.Install) {
      installed = await install(o.root, groupRoot, archive, spec as AppSpec, deploymentId);
      write(log, o, `   ${installed.length} file(s) installed\n`);
      continue;
    }
    const step = eventScripts(event, spec, previousSpec);
    const dir = step.revision === 'previous' ? previousArchive : archive;
    if (!dir) continue;
    for (const script of step.scripts) await runScript(o, log, { ...env, LIFECYCLE_EVENT: event }, dir, event, script);
  }
  await writeFile(join(groupRoot, 'last-successful.json'), JSON.stringify({ deploymentId } satisfies Record));
  return { deploymentId, installed };
}

async function readAppSpec(archive: string, path: string): Promise<AppSpec> {
  let text: string;
  try {
    text = await readFile(join(archive, path), 'utf8');
  } catch {
    throw new SteplineError(ErrorName.ActionFailed, `the revision has no ${path}`);
  }
  return parseAppSpec(text, path);
}

async function runScript(
  o: LocalDeploymentOptions,
  log: WriteStream,
  env: { [k: string]: string },
  dir: string,
  event: string,
  script: { location: string; timeout: number; runas?: string | undefined },
): Promise<void> {
  const file = join(dir, script.location);
  if (!(await stat(file).catch(() => undefined))?.isFile())
    throw new SteplineError(ErrorName.HookFailed, `${event}: the script ${script.location} is not in the revision`);
  // As the agent does: a script without its executable bit is made executable.
  await chmod(file, 0o755);
  const me = userInfo().username;
  const runas = script.runas && script.runas !== me ? ` (runas ${script.runas}: one machine runs hooks as ${me})` : '';
  write(log, o, `   ${script.location}, timeout ${script.timeout} s${runas}\n`);
  // sh runs a script without a #! line itself, as the agent's shell would.
  const { exitCode, timedOut } = await runLogged('/bin/sh', ['-c', 'exec "$0"', file], {
    cwd: dir,
    env: { ...process.env, ...env },
    log,
    signal: o.signal,
    timeoutSeconds: script.timeout,
    // A script may start the application as a daemon (`nohup … &` in ApplicationStart): it runs on.
    background: 'keep',
    ...(o.output && { output: o.output }),
  });
  if (o.signal.aborted) throw new SteplineError(ErrorName.Stopped, `${event} was stopped`);
  if (timedOut) throw new SteplineError(ErrorName.HookFailed, `${event}: ${script.location} timed out after ${script.timeout} s`);
  if (exitCode !== 0) throw new SteplineError(ErrorName.HookFailed, `${event}: ${script.location} exited with ${exitCode}`);
}

/**
 * The Install event: the files the last install wrote are removed, the revision's are copied as
 * `files` says (an existing file that no deployment wrote is refused, overwritten or kept, as
 * `file_exists_behavior` says), `permissions` modes applied, and the list kept for the next install.
 */
async function install(root: string, groupRoot: string, archive: string, spec: AppSpec, deploymentId: string): Promise<string[]> {
  const cleanup = join(groupRoot, 'last-installed.json');
  const before = (await readJson<{ files: string[] }>(cleanup))?.files ?? [];
  for (const file of before) await rm(onInstance(root, file), { force: true });
  const copies = installPlan(spec, await listFiles(archive));
  const installed: string[] = [];
  // The list is kept even when a copy fails, so what a failed install left is removed by the next one.
  try {
    for (const copy of copies) {
      const target = onInstance(root, copy.to);
      const exists = (await stat(target).catch(() => undefined)) !== undefined;
      if (exists && spec.file_exists_behavior === FileExistsBehavior.Retain) continue;
      if (exists && spec.file_exists_behavior === FileExistsBehavior.Disallow)
        throw new SteplineError(
          ErrorName.ActionFailed,
          `Install: ${copy.to} already exists and no earlier deployment wrote it (file_exists_behavior DISALLOW; set OVERWRITE or RETAIN)`,
        );
      await mkdir(dirname(target), { recursive: true });
      await copyFile(join(archive, copy.from), target);
      installed.push(copy.to);
    }
  } finally {
    await writeFile(cleanup, JSON.stringify({ deploymentId, files: installed }));
  }
  // One machine runs as its user: modes apply, owners and groups need the agent's root.
  for (const change of permissionChanges(spec, installed)) if (change.mode) await chmod(onInstance(root, change.path), Number.parseInt(change.mode, 8));
  return installed;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

async function copyTree(from: string, to: string): Promise<void> {
  for (const file of await listFiles(from)) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await copyFile(join(from, file), join(to, file));
  }
}
