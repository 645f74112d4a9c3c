import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Pipeline, parseDocumentText, parsePipeline } from '@stepline/core';
import { UsageError } from './errors';

/** Looked for, in order, when no file is named. */
export const DEFAULT_FILES = ['stepline.yml', 'stepline.yaml', 'stepline.json', 'stepline.ts'];

export interface LoadedPipeline {
  pipeline: Pipeline;
  /** The file it came from, absolute. */
  file: string;
}

export function findPipelineFile(file: string | undefined, cwd = process.cwd()): string {
  if (file !== undefined) {
    const path = resolve(cwd, file);
    if (!existsSync(path)) throw new UsageError(`${file}: no such file`);
    return path;
  }
  const found = DEFAULT_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  if (!found) throw new UsageError(`no pipeline file given, and none of ${DEFAULT_FILES.join(', ')} is in ${cwd}`);
  return found;
}

/** Loads a pipeline from YAML, JSON, or a TypeScript module whose default export is a `definePipeline()` value. */
export async function loadPipeline(file: string | undefined, cwd = process.cwd()): Promise<LoadedPipeline> {
  const path = findPipelineFile(file, cwd);
  // Messages name the file as the user would: relative to where they are.
  const shown = file ?? relative(cwd, path);
  if (/\.[cm]?[jt]s$/.test(path)) {
    // tsx compiles the definition whether the CLI itself runs bundled or from its sources.
    const { tsImport } = await import('tsx/esm/api');
    const module = (await tsImport(pathToFileURL(path).href, import.meta.url)) as { default?: unknown; pipeline?: unknown };
    const value = module.default ?? module.pipeline;
    if (value === undefined) throw new UsageError(`${shown}: expected a default export made with definePipeline()`);
    return { pipeline: parsePipeline(value, shown), file: path };
  }
  const text = readFileSync(path, 'utf8');
  const document = parseDocumentText(text, shown);
  if (document && typeof document === 'object' && ('pipeline' in document || 'Resources' in document || 'AWSTemplateFormatVersion' in document)) {
    throw new UsageError(
      `${shown}: this is CodePipeline JSON or a CloudFormation template; turn it into a stepline definition with: stepline import-codepipeline ${shown}`,
    );
  }
  return { pipeline: parsePipeline(document, shown), file: path };
}
