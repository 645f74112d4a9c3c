/**
 * A local git repository as the source action: the commit to build (the trigger's, else the head of
 * the branch, else HEAD), its metadata as CodePipeline's SourceVariables, and its tree exported into
 * the source artifact (`git archive`, so only committed files: a build sees what a push would send).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ErrorName, type SourceRevision, type SourceVariables, SteplineError } from '@stepline/core';
import { TarDigest, type TarFile } from './tar-digest';

const run = promisify(execFile);

export class SourceError extends SteplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorName.ActionFailed, message, options);
  }
}

async function git(repo: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; code?: string | number };
    if (e.code === 'ENOENT') throw new SourceError('git is not installed: the local source action needs it', { cause: error });
    throw new SourceError(`git ${args[0]} in ${repo}: ${(e.stderr ?? String(error)).trim().split('\n')[0]}`, { cause: error });
  }
}

export interface ResolvedSource {
  commitId: string;
  variables: SourceVariables;
}

/** Which commit to build and what CodePipeline would say about it (two git processes at most). */
export async function resolveSource(repo: string, revision: SourceRevision, fallbackBranch: string, repository: string): Promise<ResolvedSource> {
  // Without a commit, tag or branch from the trigger, the build is of the branch checked out.
  const named = revision.commitId ?? revision.tag ?? revision.branchName;
  const current = named === undefined ? await currentBranch(repo) : undefined;
  const ref = named ?? current ?? fallbackBranch;
  const format = ['%H', '%an', '%aI', '%B'].join('%x00');
  // --end-of-options: a ref from a webhook is never read as an option, even one starting with '-'.
  const show = () => git(repo, ['log', '-1', '--no-walk', `--format=${format}`, '--end-of-options', `${ref}^{commit}`, '--']);
  // A webhook may name a commit this clone has not fetched yet.
  const shown = await show().catch(async (error: unknown) => {
    if (!(await isRepository(repo)))
      throw new SourceError(`${repo} is not a git repository: the local source action reads one (give it with --repo)`, { cause: error });
    await git(repo, ['fetch', '--quiet', '--all', '--tags']).catch(() => '');
    return show();
  });
  const [commitId = '', authorName = '', authorDate = '', message = ''] = shown.split('\u0000');
  return {
    commitId,
    variables: {
      CommitId: commitId,
      BranchName: revision.branchName ?? current ?? fallbackBranch,
      CommitMessage: message.trim(),
      AuthorName: authorName,
      AuthorDate: authorDate,
      FullRepositoryName: revision.repository ?? repository,
      ProviderType: 'Git',
    },
  };
}

async function currentBranch(repo: string): Promise<string | undefined> {
  const branch = await git(repo, ['symbolic-ref', '-q', '--short', 'HEAD']).catch(() => '');
  return branch.trim() || undefined;
}

async function isRepository(repo: string): Promise<boolean> {
  return git(repo, ['rev-parse', '--git-dir']).then(
    () => true,
    () => false,
  );
}

/**
 * Writes the tree of a commit into `dest` (which must exist and be empty), streaming git's tar into
 * tar, and yields every file as it passes, hashed, in git's order (paths sorted by their UTF-8 bytes).
 * Ends once tar has written everything, or throws; ending the generator early stops git and tar.
 */
export async function* exportTree(repo: string, commitId: string, dest: string): AsyncGenerator<TarFile> {
  await mkdir(dest, { recursive: true });
  const archive = spawn('git', ['-C', repo, 'archive', '--format=tar', '--end-of-options', commitId], { stdio: ['ignore', 'pipe', 'pipe'] });
  const untar = spawn('tar', ['-x', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  let passed: TarFile[] = [];
  let wake: (() => void) | undefined;
  const digest = new TarDigest((file) => {
    passed.push(file);
    wake?.();
  });
  archive.stdout.on('data', (chunk: Buffer) => digest.write(chunk));
  archive.stdout.pipe(untar.stdin);
  const errors = { git: '', tar: '' };
  archive.stderr.on('data', (d: Buffer) => {
    errors.git += d.toString();
  });
  untar.stderr.on('data', (d: Buffer) => {
    errors.tar += d.toString();
  });
  // Stopped early (the consumer is done or failed), tar's end of the pipe closes under git's writes.
  untar.stdin.on('error', (error) => {
    errors.tar ||= error.message;
  });
  /** A child's end, never a rejection: the one that could not start, or its exit code. */
  const exit = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: 1, error }));
      child.once('close', (code) => resolve({ code: code ?? 1 }));
    });
  let ended = false;
  const exited = Promise.all([exit(archive), exit(untar)]).then((codes) => {
    ended = true;
    wake?.();
    return codes;
  });
  try {
    for (;;) {
      const files = passed;
      passed = [];
      yield* files;
      if (ended && passed.length === 0) break;
      if (passed.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    const [git, tar] = await exited;
    const failed = git.error ?? tar.error;
    if (failed) throw new SourceError(`exporting ${commitId}: ${failed.message}`, { cause: failed });
    if (git.code !== 0) throw new SourceError(`git archive ${commitId}: ${errors.git.trim().split('\n')[0] ?? `exit ${git.code}`}`);
    if (tar.code !== 0) throw new SourceError(`unpacking the source: ${errors.tar.trim().split('\n')[0] ?? `exit ${tar.code}`}`);
  } finally {
    if (!ended) {
      archive.stdout.unpipe(untar.stdin);
      archive.kill();
      untar.kill();
      await exited;
    }
  }
}
