/**
 * A local git repository as the source action: the commit to build (the trigger's, else the head of
 * the branch, else HEAD), its metadata as CodePipeline's SourceVariables, and its tree exported into
 * the source artifact (`git archive`, so only committed files: a build sees what a push would send).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { type SourceRevision, type SourceVariables, SteplineError } from '@stepline/core';

const run = promisify(execFile);

export class SourceError extends SteplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Stepline.ActionFailed', message, options);
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
  const show = () => git(repo, ['log', '-1', '--no-walk', `--format=${format}`, `${ref}^{commit}`, '--']);
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

/** Writes the tree of a commit into `dest` (which must exist and be empty). */
export async function exportTree(repo: string, commitId: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const archive = execFile('git', ['-C', repo, 'archive', '--format=tar', commitId], { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 }, (error) => {
      if (error) reject(new SourceError(`git archive ${commitId}: ${String(error.message).split('\n')[0]}`, { cause: error }));
    });
    const untar = execFile('tar', ['-x', '-C', dest], (error) =>
      error ? reject(new SourceError(`unpacking the source: ${error.message}`, { cause: error })) : resolve(),
    );
    archive.stdout?.pipe(untar.stdin as NodeJS.WritableStream);
  });
}
