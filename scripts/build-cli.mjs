// Bundles the CLI into packages/cli/dist/stepline.mjs (and chunks loaded when used) so that `stepline`
// starts without compiling TypeScript on the fly, and without resolving the hundreds of small modules
// its pure-JS dependencies are made of. Run by `npm ci` (prepare); bin/stepline.js falls back to tsx
// while the bundle is older than the sources.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const external = new Set();
for (const dir of ['.', ...readdirSync(join(root, 'packages')).map((p) => join('packages', p))]) {
  try {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) if (!name.startsWith('@stepline/')) external.add(name);
  } catch {
    // not a package
  }
}

// Pure-JS dependencies of the local path are bundled: loading one file is faster than resolving many.
for (const name of ['aws-local-stepfunctions', 'zod', 'yaml', 'commander', 'picomatch', 'fast-xml-parser', '@octokit/webhooks-methods']) external.delete(name);
// The local engine comes without what it would use to reach AWS (see engine-stubs.mjs).
const engineStubs = {
  name: 'engine-stubs',
  setup(b) {
    b.onResolve({ filter: /^(@aws-sdk\/client-lambda|@aws-sdk\/credential-providers|asl-validator)$/ }, (args) =>
      args.importer.includes('aws-local-stepfunctions') ? { path: join(root, 'scripts', 'engine-stubs.mjs') } : undefined,
    );
  },
};

rmSync(join(root, 'packages/cli/dist'), { recursive: true, force: true });
await build({
  plugins: [engineStubs],
  entryPoints: [join(root, 'packages/cli/src/main.ts')],
  outdir: join(root, 'packages/cli/dist'),
  entryNames: 'stepline',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Lazily imported parts (the AWS target, the engine) stay in chunks of their own, loaded when used.
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: [...external].flatMap((name) => [name, `${name}/*`]),
  // Bundled CommonJS dependencies call require() for Node's built-ins; ESM output has none of its own.
  banner: { js: "import { createRequire as __steplineRequire } from 'node:module'; const require = __steplineRequire(import.meta.url);" },
  logLevel: 'warning',
});
