/** Verbs that read a definition and say what it is: validate, compile, graph, import-codepipeline. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CompileOptions,
  type CompileTarget,
  compilePipeline,
  DefinitionError,
  importCodePipeline,
  installationCompileOptions,
  pipelineToMermaid,
  toSteplineYaml,
  validateStateMachine,
} from '@stepline/core';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { loadPipeline } from '../load-pipeline';

const printWarnings = (warnings: Array<{ path: string; message: string }>) => {
  for (const w of warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
};

/** Compiles and checks the result with asl-validator too, as a deploy would. */
function compileChecked(pipeline: Parameters<typeof compilePipeline>[0], targetName: string, options: CompileOptions = {}) {
  const compiled = compilePipeline(pipeline, { ...options, target: target(targetName) });
  const problems = validateStateMachine(compiled.definition);
  if (problems.length > 0)
    throw new DefinitionError(
      problems.map((message) => ({ path: '', message })),
      pipeline.name,
    );
  printWarnings(compiled.warnings);
  return compiled;
}

/**
 * On AWS the machine names the installation's functions, bucket, topic and projects, which depend on its
 * stage, account and region: without them it would print names no installation has.
 */
function installationOptions(opts: { target: string; install?: string; region?: string; account?: string }): CompileOptions {
  if (opts.target !== 'aws') return {};
  const missing = [!opts.install && '--install <sst stage>', !opts.region && '--region <region>', !opts.account && '--account <id>'].filter(Boolean);
  if (missing.length > 0)
    throw new UsageError(
      `compile --target aws prints the state machine an installation runs, which names its functions, bucket and projects: give ${missing.join(', ')}`,
    );
  if (!/^\d{12}$/.test(opts.account ?? '')) throw new UsageError(`--account: expected a 12-digit AWS account id, got ${JSON.stringify(opts.account)}`);
  return installationCompileOptions({ stage: opts.install ?? '', region: opts.region ?? '', accountId: opts.account ?? '' });
}

function target(value: string): CompileTarget {
  if (value !== 'local' && value !== 'aws') throw new UsageError(`--target: expected local or aws, got ${JSON.stringify(value)}`);
  return value;
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a pipeline definition and report every problem with its path')
    .argument('[file]', 'pipeline definition (default: stepline.yml)')
    .option('--target <target>', 'check what this runtime needs too: local or aws', 'local')
    .action(async (file: string | undefined, opts: { target: string }) => {
      const { pipeline } = await loadPipeline(file);
      compileChecked(pipeline, opts.target);
      const actions = pipeline.stages.reduce((n, s) => n + s.actions.length, 0);
      process.stdout.write(`${pipeline.name}: valid (${pipeline.stages.length} stages, ${actions} actions)\n`);
    });

  program
    .command('compile')
    .description('compile a pipeline to an Amazon States Language state machine')
    .argument('[file]', 'pipeline definition (default: stepline.yml)')
    .option('--out <dir>', 'write <pipeline>.asl.json and <pipeline>.states.json (the state map) here')
    .option('--target <target>', 'runtime the machine is compiled for: local or aws', 'local')
    .option('--install <stage>', 'with --target aws: the installation (sst stage) whose functions, bucket and projects the machine names')
    .option('--region <region>', 'with --target aws: the installation’s AWS region')
    .option('--account <id>', 'with --target aws: the installation’s AWS account id')
    .action(async (file: string | undefined, opts: { out?: string; target: string; install?: string; region?: string; account?: string }) => {
      const { pipeline } = await loadPipeline(file);
      const compiled = compileChecked(pipeline, opts.target, installationOptions(opts));
      if (!opts.out) {
        process.stdout.write(`${JSON.stringify(compiled.definition, null, 2)}\n`);
        return;
      }
      mkdirSync(opts.out, { recursive: true });
      const asl = join(opts.out, `${pipeline.name}.asl.json`);
      const states = join(opts.out, `${pipeline.name}.states.json`);
      writeFileSync(asl, `${JSON.stringify(compiled.definition, null, 2)}\n`);
      writeFileSync(states, `${JSON.stringify(compiled.stateMap, null, 2)}\n`);
      process.stdout.write(`wrote ${asl}\nwrote ${states}\n`);
    });

  program
    .command('graph')
    .description('print a Mermaid flowchart of the stages and actions')
    .argument('[file]', 'pipeline definition (default: stepline.yml)')
    .action(async (file: string | undefined) => {
      const { pipeline } = await loadPipeline(file);
      process.stdout.write(pipelineToMermaid(pipeline));
    });

  program
    .command('import-codepipeline')
    .description('turn CodePipeline JSON (get-pipeline) or a CloudFormation template into stepline YAML')
    .argument('<file>', 'pipeline JSON, or a template with AWS::CodePipeline::Pipeline resources')
    .option('--out <path>', 'write the YAML here instead of printing it; a directory (one <pipeline>.yml each) when the template has several pipelines')
    .option(
      '--parameter <name=value>',
      'a template parameter, pseudo parameter (AWS::StackName), export or attribute (Stack.Outputs.Name) the file cannot give (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--region <region>', 'the region the stack would be created in (AWS::Region)')
    .option('--account <id>', 'the account the stack would be created in (AWS::AccountId)')
    .option(
      '--connection-host <arn=host>',
      "the host a CodeConnections connection reaches: GitHub, GitLab or Bitbucket (its ARN doesn't say; repeatable)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .action((file: string, opts: { out?: string; parameter: string[]; region?: string; account?: string; connectionHost: string[] }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new UsageError(`${file}: no such file`);
      }
      const parameters: Record<string, string> = {};
      for (const pair of opts.parameter) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`--parameter: expected Name=Value, got ${JSON.stringify(pair)}`);
        parameters[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const connectionHosts: Record<string, string> = {};
      for (const pair of opts.connectionHost) {
        const eq = pair.lastIndexOf('=');
        const host = pair.slice(eq + 1);
        if (eq <= 0 || !['GitHub', 'GitLab', 'Bitbucket'].includes(host))
          throw new UsageError(`--connection-host: expected <connection ARN>=GitHub, GitLab or Bitbucket, got ${JSON.stringify(pair)}`);
        connectionHosts[pair.slice(0, eq)] = host;
      }
      const imported = importCodePipeline(text, file, {
        parameters,
        connectionHosts,
        ...(opts.region !== undefined && { region: opts.region }),
        ...(opts.account !== undefined && { accountId: opts.account }),
      });
      for (const { definition, notes } of imported)
        if (notes.length > 0) process.stderr.write(`${definition.name}: ${notes.length} note${notes.length === 1 ? '' : 's'} (at the top of its YAML)\n`);
      if (!opts.out) {
        process.stdout.write(imported.map(toSteplineYaml).join('---\n'));
        return;
      }
      const toDirectory = imported.length > 1 || opts.out.endsWith('/') || (existsSync(opts.out) && statSync(opts.out).isDirectory());
      if (!toDirectory) {
        writeFileSync(opts.out, imported.map(toSteplineYaml).join('---\n'));
        process.stdout.write(`wrote ${opts.out}\n`);
        return;
      }
      mkdirSync(opts.out, { recursive: true });
      for (const pipeline of imported) {
        const path = join(opts.out, `${pipeline.definition.name}.yml`);
        writeFileSync(path, toSteplineYaml(pipeline));
        process.stdout.write(`wrote ${path}\n`);
      }
    });
}
