import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type BundleFiles, bundleHandlers } from './bundle';
import { FUNCTION_KEYS } from './plan';

const HANDLERS = join(import.meta.dirname, '../packages/functions/src/handlers');
/** What the nodejs22.x runtime provides: Node's modules and the AWS SDK v3. */
const provided = (id: string) => id.startsWith('node:') || builtinModules.includes(id.split('/')[0] ?? id) || id.startsWith('@aws-sdk/');

// Inside the repository (in git-ignored .sst/), so that the bundle finds the AWS SDK in node_modules as
// Lambda finds its own.
mkdirSync(join(import.meta.dirname, '../.sst'), { recursive: true });
const dir = mkdtempSync(join(import.meta.dirname, '../.sst/bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Lambda bundles', () => {
  let bundles: Map<string, BundleFiles>;
  const entry = (key: string) => join(HANDLERS, `${key}.ts`);

  it('every function the stacks deploy has a handler that bundles for Node.js 22 into one ES module', { timeout: 60_000 }, async () => {
    const files = readdirSync(HANDLERS).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.map((f) => f.replace(/\.ts$/, ''))).toEqual(expect.arrayContaining([...FUNCTION_KEYS]));
    bundles = await bundleHandlers(FUNCTION_KEYS.map(entry));
    for (const key of FUNCTION_KEYS) {
      const bundle = bundles.get(entry(key)) ?? {};
      expect(Object.keys(bundle).sort(), key).toStrictEqual(['index.mjs', 'index.mjs.map']);
      const code = bundle['index.mjs'] ?? '';
      const imports = [
        ...new Set(
          [...code.matchAll(/\bimport\s*(?:[\w${}\s,*]+from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2] ?? ''),
        ),
      ];
      expect(
        imports.filter((i) => !provided(i)),
        key,
      ).toStrictEqual([]);
      expect(code, key).toMatch(/export\s*\{[^}]*\bhandler\b/);
    }
  });

  it('the gate handler runs from its bundle in plain Node.js', { timeout: 30_000 }, () => {
    for (const [name, text] of Object.entries(bundles.get(entry('gate')) ?? {})) writeFileSync(join(dir, name), text);
    const run = spawnSync(
      process.execPath,
      [
        '--enable-source-maps',
        '--input-type=module',
        '-e',
        `const { handler } = await import(${JSON.stringify(join(dir, 'index.mjs'))});
         await handler({ nonsense: true }, {}).then(() => console.log('answered'), (e) => console.log(e.name + ': ' + e.message));`,
      ],
      { env: { PATH: process.env.PATH, ARTIFACT_BUCKET: 'b', AWS_REGION: 'eu-west-1' }, encoding: 'utf8', timeout: 25_000 },
    );
    expect(run.stdout.trim()).toBe('Stepline.GateEventInvalid: not a gate event (event: Invalid input)');
  });
});
