/** `--target local|aws`: which runtime a verb talks to. */
import type { Command } from 'commander';
import type { PipelineBackend } from './backend';
import { UsageError } from './errors';
import { LocalBackend } from './local-backend';

export type Target = 'local' | 'aws';

/** The options that choose where a verb acts: this machine, or an AWS installation (`--install`, its sst stage). */
export function addTargetOptions(command: Command): Command {
  return command
    .option('--target <target>', 'local (this machine) or aws (an installation)', 'local')
    .option('--region <region>', 'AWS region (--target aws)')
    .option('--profile <profile>', 'AWS profile (--target aws)')
    .option('--install <name>', 'the installation (its sst stage) (--target aws)');
}

export interface TargetOptions {
  target?: string;
  region?: string;
  profile?: string;
  stage?: string;
}

export function targetOf(value: string | undefined): Target {
  if (value === undefined || value === 'local') return 'local';
  if (value === 'aws') return 'aws';
  throw new UsageError(`--target: expected local or aws, got ${JSON.stringify(value)}`);
}

/** The backend for a verb, closed when the verb is done. */
export async function withBackend<T>(options: TargetOptions, use: (backend: PipelineBackend) => Promise<T>): Promise<T> {
  if (targetOf(options.target) === 'local') {
    const local = new LocalBackend();
    try {
      return await use(local);
    } finally {
      local.close();
    }
  }
  const { createAwsBackend } = await import('./aws/index');
  return use(
    await createAwsBackend({
      ...(options.region && { region: options.region }),
      ...(options.profile && { profile: options.profile }),
      ...(options.stage && { stage: options.stage }),
    }),
  );
}
