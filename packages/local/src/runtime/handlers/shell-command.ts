import { createWriteStream } from 'node:fs';
import { releaseProcessGroup, spawnOwnedGroup } from '../../process/process-groups';
import type { ExecutionContext } from '../context';

export interface ShellCommandOptions {
  script: string;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Output goes here (and to the execution's output stream). */
  logFile: string;
}

/**
 * Runs a script with /bin/sh in its own process group, ended with the execution's signal; resolves
 * with its exit code (128 when a signal ended it).
 */
export async function runShellCommand(ctx: Pick<ExecutionContext, 'signal' | 'output'>, o: ShellCommandOptions): Promise<number> {
  const log = createWriteStream(o.logFile);
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawnOwnedGroup('/bin/sh', ['-c', o.script], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = () => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    ctx.signal.addEventListener('abort', kill, { once: true });
    const group = child.pid;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (d: Buffer) => {
        log.write(d);
        ctx.output?.(d.toString());
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ctx.signal.removeEventListener('abort', kill);
      if (group !== undefined) releaseProcessGroup(group);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  await new Promise((r) => log.end(r));
  return exitCode;
}
