import { statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first of `names` found as an executable file on `path`. */
export function findOnPath(names: readonly string[], path: string | undefined): string | undefined {
  for (const name of names) {
    if (name.startsWith('/')) {
      if (isExecutable(name)) return name;
      continue;
    }
    for (const dir of (path ?? '').split(delimiter)) {
      if (dir === '') continue;
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
