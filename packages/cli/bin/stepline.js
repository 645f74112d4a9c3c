#!/usr/bin/env node
// Runs the bundled CLI (built by `npm ci`, see scripts/build-cli.mjs) when it is newer than every
// source file; otherwise the TypeScript sources through tsx, so an edit takes effect at once.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..');
const bundle = join(here, '..', 'dist', 'stepline.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    return readdirSync(packages).every((p) => {
      try {
        return newestSource(join(packages, p, 'src')) <= built;
      } catch {
        return true;
      }
    });
  } catch {
    return false;
  }
}

if (bundleIsFresh()) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
