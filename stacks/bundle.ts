/**
 * Lambda bundles for `sst deploy`: every handler in packages/functions/src/handlers, bundled the way
 * the functions package says its functions ship (packages/functions/src/bundle.ts: ESM for Node.js 22,
 * minified, the AWS SDK left to the nodejs22.x runtime), all in one esbuild run since they share most
 * of their code. Each function gets `index.mjs` and its source map.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
 */
import { basename } from 'node:path';
import { bundleOptions } from '@stepline/functions/bundle';
import type * as Esbuild from 'esbuild';

/**
 * esbuild, loaded at run time: sst bundles sst.config.ts (and so this file) with esbuild, whose API cannot
 * itself be bundled. A specifier in a variable is left alone by the bundler and resolved by Node.
 */
const ESBUILD = 'esbuild';
const loadEsbuild = (): Promise<typeof Esbuild> => import(ESBUILD);

export interface BundleOptions {
  /** Bundle the AWS SDK too, to pin its version instead of using the runtime's. @default false */
  bundleSdk?: boolean;
}

/** The files of one function's code: `index.mjs` (exporting `handler`) and its source map. */
export type BundleFiles = Record<string, string>;

/** Bundles handler files; returns each entry's files, keyed by the entry path. */
export async function bundleHandlers(entries: readonly string[], options: BundleOptions = {}): Promise<Map<string, BundleFiles>> {
  const names = new Map(entries.map((entry) => [basename(entry).replace(/\.[cm]?[jt]s$/, ''), entry]));
  if (names.size !== entries.length) throw new Error('stepline: two handlers share a file name');
  const {
    entryPoints: _one,
    outfile: _outfile,
    ...shared
  } = bundleOptions({ entry: entries[0] ?? '', outfile: 'index.mjs', bundleSdk: options.bundleSdk ?? false });
  const { build } = await loadEsbuild();
  const result = await build({
    ...shared,
    entryPoints: Object.fromEntries([...names].map(([name, entry]) => [`${name}/index`, entry])),
    outdir: 'bundle',
    outExtension: { '.js': '.mjs' },
    // NODE_OPTIONS=--enable-source-maps (set on every function) reads the map beside the code.
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: false,
    write: false,
    logLevel: 'silent',
  });
  const bundles = new Map<string, BundleFiles>();
  for (const file of result.outputFiles) {
    const [name, fileName] = file.path.split('/').slice(-2);
    const entry = names.get(name ?? '');
    if (entry === undefined || fileName === undefined) continue;
    bundles.set(entry, { ...bundles.get(entry), [fileName]: file.text });
  }
  for (const entry of entries) if (bundles.get(entry)?.['index.mjs'] === undefined) throw new Error(`esbuild produced no index.mjs for ${entry}`);
  return bundles;
}

/** Bundles one handler file (see `bundleHandlers`). */
export async function bundleHandler(entry: string, options: BundleOptions = {}): Promise<BundleFiles> {
  return (await bundleHandlers([entry], options)).get(entry) ?? {};
}
