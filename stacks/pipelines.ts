/**
 * The team's pipeline definitions, read at deploy time from one directory (`pipelines/` by default):
 * every `*.yml`, `*.yaml` and `*.json` file holds one pipeline. They are parsed and validated with core,
 * so `sst deploy` refuses a definition `stepline validate` would refuse, with the same messages.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type CompiledPipeline, type CompileOptions, compilePipeline, DefinitionError, type Pipeline, parsePipelineText } from '@stepline/core';

export interface LoadedPipeline {
  pipeline: Pipeline;
  /** The file, relative to the directory searched. */
  file: string;
}

const DEFINITION = /\.(ya?ml|json)$/;
/** Control data lives under `_stepline/` in the artifact bucket, beside the `<pipeline>/` prefixes. */
export const RESERVED_PIPELINE_NAMES = ['_stepline'];

/** Reads every pipeline in `dir`; throws one error listing every file that fails. */
export function loadPipelines(dir: string): LoadedPipeline[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`stepline: no pipeline directory at ${dir} (put one pipeline per .yml file there, or set STEPLINE_PIPELINES)`);
  const files = readdirSync(dir)
    .filter((f) => DEFINITION.test(f))
    .sort();
  if (files.length === 0) throw new Error(`stepline: ${dir} holds no pipeline definition (*.yml, *.yaml, *.json)`);

  const problems: string[] = [];
  const loaded: LoadedPipeline[] = [];
  for (const file of files) {
    const path = join(dir, file);
    const shown = relative(process.cwd(), path) || path;
    try {
      const pipeline = parsePipelineText(readFileSync(path, 'utf8'), shown);
      if (RESERVED_PIPELINE_NAMES.includes(pipeline.name)) problems.push(`${shown}: the pipeline name ${pipeline.name} is reserved`);
      else loaded.push({ pipeline, file });
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  const seen = new Map<string, string>();
  for (const { pipeline, file } of loaded) {
    const other = seen.get(pipeline.name);
    if (other !== undefined) problems.push(`${file}: pipeline ${pipeline.name} is also defined in ${other}`);
    seen.set(pipeline.name, file);
  }
  if (problems.length > 0) throw new Error(`stepline: cannot install these pipelines:\n${problems.map((p) => `  ${p.replace(/\n/g, '\n  ')}`).join('\n')}`);
  return loaded;
}

/**
 * Compiles one pipeline for this installation. What the compiler says AWS lacks to run it (a deploy
 * action without its ECS service, an invoke action with only a command) stops the deploy: a state
 * machine that cannot run is not installed.
 */
export function compileForAws(pipeline: Pipeline, options: CompileOptions): CompiledPipeline {
  const compiled = compilePipeline(pipeline, { ...options, target: 'aws' });
  if (compiled.warnings.length > 0) {
    throw new DefinitionError(
      compiled.warnings.map((w) => ({ ...w, message: `${w.message} (needed on AWS)` })),
      pipeline.name,
    );
  }
  return compiled;
}
