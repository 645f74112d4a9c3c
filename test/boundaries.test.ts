/**
 * Contracts the layout keeps: a package reaches another only through its public entry (`@stepline/x`,
 * never `../../other/src/...`), and every `Stepline.*` error name is spelled once, in core's errors
 * module, which the compiler's Retry/Catch lists and every handler read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/project';

const ERRORS_MODULE = join('packages', 'core', 'src', 'errors.ts');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'fixtures') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const packages = readdirSync(join(REPO_ROOT, 'packages'));
/** Each package's code, and the stacks (which install the packages and so use them as anyone would). */
const units = [
  ...packages.map((name) => ({ name: `packages/${name}`, root: join(REPO_ROOT, 'packages', name) })),
  { name: 'stacks', root: join(REPO_ROOT, 'stacks') },
];

/** The package a path belongs to (`packages/local`), or undefined outside packages/. */
function packageOf(path: string): string | undefined {
  const parts = relative(REPO_ROOT, path).split(sep);
  return parts[0] === 'packages' && parts[1] ? `packages/${parts[1]}` : undefined;
}

describe('package boundaries', () => {
  it('no package or stack imports another package by relative path', () => {
    const crossings: string[] = [];
    for (const unit of units) {
      for (const file of sources(unit.root)) {
        for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
          if (!fileName.startsWith('.')) continue;
          const target = packageOf(resolve(dirname(file), fileName));
          if (target !== undefined && target !== unit.name) crossings.push(`${relative(REPO_ROOT, file)} imports ${fileName}`);
        }
      }
    }
    expect(crossings).toStrictEqual([]);
  });

  it('every @stepline package a package imports is declared in its package.json', () => {
    const undeclared: string[] = [];
    for (const name of packages) {
      const root = join(REPO_ROOT, 'packages', name);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
      for (const file of sources(root)) {
        for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
          const used = /^(@stepline\/[^/]+)/.exec(fileName)?.[1];
          if (used && used !== manifest.name && !manifest.dependencies?.[used]) undeclared.push(`${manifest.name} uses ${used} (${relative(REPO_ROOT, file)})`);
        }
      }
    }
    expect([...new Set(undeclared)]).toStrictEqual([]);
  });

  it('every file a package exports exists', () => {
    const missing: string[] = [];
    for (const name of packages) {
      const root = join(REPO_ROOT, 'packages', name);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: Record<string, string>; bin?: Record<string, string> };
      for (const target of [...Object.values(manifest.exports ?? {}), ...Object.values(manifest.bin ?? {})]) {
        try {
          statSync(join(root, target));
        } catch {
          missing.push(`packages/${name}: ${target}`);
        }
      }
    }
    expect(missing).toStrictEqual([]);
  });
});

describe('error names', () => {
  it('spells a Stepline.* name as a string only in core’s errors module', () => {
    const spelled: string[] = [];
    for (const unit of units) {
      for (const file of sources(unit.root)) {
        if (file.endsWith('.test.ts') || relative(REPO_ROOT, file) === ERRORS_MODULE) continue;
        const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
        const visit = (node: ts.Node): void => {
          if ((ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) && /\bStepline\.[A-Z]/.test(node.text))
            spelled.push(`${relative(REPO_ROOT, file)}: ${node.getText(source)}`);
          ts.forEachChild(node, visit);
        };
        visit(source);
      }
    }
    expect(spelled).toStrictEqual([]);
  });
});
