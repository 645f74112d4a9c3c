/**
 * `stepline`: every verb works on this machine (`--target local`, the default) or, where it makes
 * sense, on an AWS installation (`--target aws`). Errors are one clear message and exit code 1.
 */
import { join } from 'node:path';
import { DefinitionError } from '@stepline/core';
import { explainStorageError } from '@stepline/local';
import { Command, CommanderError } from 'commander';
import { commandModules } from './commands/index';
import { UsageError } from './errors';

export function buildProgram(): Command {
  const program = new Command('stepline')
    .description('CodePipeline, CodeBuild and CodeDeploy on AWS Step Functions, runnable on one machine')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const module of commandModules) module.register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    if (error instanceof DefinitionError || error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    const e = error as Error;
    const storage = explainStorageError(error, join(process.cwd(), '.stepline'));
    process.stderr.write(`error: ${storage ?? e.message ?? String(error)}\n`);
    if (process.env.STEPLINE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

const isEntry = process.argv[1] && /stepline(\.js)?$|main\.ts$/.test(process.argv[1]);
if (isEntry) process.exitCode = await main(process.argv.slice(2));
