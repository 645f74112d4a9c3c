/**
 * Storage failures said as what they are. SQLite reports a full disk as "disk I/O error" or "database
 * or disk is full", and a read-only one as "unable to open database file"; Node reports ENOSPC, EROFS
 * or EACCES with a path deep inside the state directory. A user needs to hear which directory, what is
 * wrong with it, and that nothing already recorded is lost.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { relative } from 'node:path';

const STORAGE_CODES = /^(SQLITE_(FULL|IOERR\w*|READONLY\w*|CANTOPEN\w*|PERM)|ENOSPC|EDQUOT|EROFS|EACCES|EPERM)$/;

/** A message for a storage failure in `stateDir`, or undefined when `error` is not one. */
export function explainStorageError(error: unknown, stateDir: string, cwd = process.cwd()): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !STORAGE_CODES.test(code)) return undefined;
  const shown = relative(cwd, stateDir) || stateDir;
  const where = `the state directory ${shown}/ (history, artifacts and logs)`;
  const keeps = 'What was recorded before is kept: no execution is half-written.';
  if (isFull(stateDir) || code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT') {
    return `no space left on the disk that holds ${where}. Free some space. ${keeps} A run that stopped on it resumes with retry-stage-execution.`;
  }
  if (!isWritable(stateDir) || code === 'EROFS' || code.startsWith('SQLITE_READONLY')) {
    return `${where} is read-only here (${code}): stepline writes its history there. Make it writable, or run from a directory where it can be. ${keeps}`;
  }
  return `cannot write ${where}: ${(error as Error).message} (${code}). ${keeps}`;
}

function isFull(dir: string): boolean {
  try {
    return statfsSync(dir).bavail === 0;
  } catch {
    return false;
  }
}

function isWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
