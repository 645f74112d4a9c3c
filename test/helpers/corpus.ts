import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_DIR = join(import.meta.dirname, '..', 'corpus');

export function corpusFiles(kind: 'buildspecs' | 'pipelines' | 'appspecs' | 'seed'): Array<{ name: string; path: string; text: string }> {
  const dir = join(CORPUS_DIR, kind);
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, path: join(dir, name), text: readFileSync(join(dir, name), 'utf8') }));
}

export const seedFile = (name: string) => readFileSync(join(CORPUS_DIR, 'seed', name), 'utf8');
