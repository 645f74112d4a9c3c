/**
 * How stepline's Lambda functions are bundled (esbuild: ESM, node22, minified), for the stacks and
 * for bench/lambda-bundles.
 *
 * - `@aws-sdk/*` stays external: the `nodejs22.x` runtime provides SDK v3, as CDK's NodejsFunction
 *   assumes by default. Bundle it instead (`bundleSdk`) to pin its version.
 * - `@stepline/core` is marked free of side effects: it does no I/O and its modules only define
 *   values, so a function carries the parts of core it uses and not the compiler or the importers.
 * - ESM output gets a `require` for the CommonJS dependencies that call it.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-package.html
 * @see https://esbuild.github.io/api/#side-effects
 */
import type { BuildOptions, Plugin } from 'esbuild';

export const FUNCTION_NAMES = ['webhook', 'source', 'approval-request', 'approval-response', 'notify'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** Marks every module under packages/core/src as side-effect free, so unused parts of core are dropped. */
export const coreWithoutSideEffects: Plugin = {
  name: 'stepline-core-without-side-effects',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'stepline-core') return undefined;
      if (!args.path.startsWith('.') && !args.path.startsWith('@stepline/core')) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'stepline-core' });
      if (resolved.errors.length > 0 || !/[\\/]packages[\\/]core[\\/]src[\\/]/.test(resolved.path)) return undefined;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

export interface BundleOptions {
  /** The handler file, e.g. `packages/functions/src/handlers/webhook.ts`. */
  entry: string;
  outfile: string;
  /** Bundle the AWS SDK too. @default false */
  bundleSdk?: boolean;
}

export function bundleOptions(options: BundleOptions): BuildOptions {
  return {
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    metafile: true,
    external: options.bundleSdk ? [] : ['@aws-sdk/*'],
    plugins: [coreWithoutSideEffects],
    banner: { js: "import{createRequire as __steplineRequire}from'node:module';const require=__steplineRequire(import.meta.url);" },
  };
}
