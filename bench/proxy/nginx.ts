/**
 * nginx from Debian's package (`apt-get install -y nginx`) as the reference proxy: one worker, the
 * same app behind a weighted upstream of two entries (90/10) with kept-alive upstream connections.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Nginx {
  port: number;
  version: string;
  /** The worker process (the one that proxies), for its CPU time. */
  workerPid(): number;
  stop(): void;
}

export async function startNginx(appPort: number, port: number): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'stepline-bench-nginx-'));
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, 'logs'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(prefix, 'body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
  upstream app {
    server 127.0.0.1:${appPort} weight=90;
    server 127.0.0.1:${appPort} weight=10;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const version = await new Promise<string>((resolve) => {
    const v = spawn('nginx', ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    v.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    v.once('close', () => resolve(text.trim().replace(/^nginx version: /, '')));
  });
  await sleep(300);
  if (child.exitCode !== null) throw new Error('nginx did not start (is it installed? apt-get install -y nginx)');
  return {
    port,
    version,
    workerPid: () => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]),
    stop: () => {
      child.kill('SIGQUIT');
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
