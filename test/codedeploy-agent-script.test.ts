/**
 * The script the code-deploy function sends each instance, run in a real bash as SSM Run Command runs
 * it: the instance's `/` moved under a directory (STEPLINE_INSTANCE_ROOT), and the AWS CLI's
 * `aws s3 cp --recursive` answered from a directory standing for the bucket.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type AppSpec, agentScript, installPlan, type ManifestFile, parseAppSpec } from '@stepline/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstDeploymentJournal, revisionFiles, rolledBackJournal } from './helpers/appspec-revision';

// `aws s3 cp --recursive --only-show-errors s3://BUCKET/PREFIX/ DEST`, from $FAKE_S3/BUCKET/PREFIX/.
const FAKE_AWS = `#!/bin/sh
[ "$1 $2 $3 $4" = "s3 cp --recursive --only-show-errors" ] || { echo "unexpected: $*" >&2; exit 2; }
src="$FAKE_S3/\${5#s3://}"
[ -d "$src" ] || { echo "fatal error: An error occurred (404)" >&2; exit 1; }
cp -R "$src/." "$6"
`;

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'stepline-agent-'));
  mkdirSync(join(work, 'bin'));
  writeFileSync(join(work, 'bin', 'aws'), FAKE_AWS);
  chmodSync(join(work, 'bin', 'aws'), 0o755);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Stores a revision in the fake bucket; returns its appspec, files and their digests as its manifest lists them. */
function store(execution: string, files: Record<string, string>): { spec: AppSpec; files: string[]; uri: string; digests: ManifestFile[] } {
  for (const [path, text] of Object.entries(files)) {
    const file = join(work, 's3', 'bkt', 'p', execution, 'Src', path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  const digests = Object.entries(files).map(([path, text]) => ({
    path,
    sha256: createHash('sha256').update(text).digest('hex'),
    size: Buffer.byteLength(text),
  }));
  return { spec: parseAppSpec(files['appspec.yml'] ?? ''), files: Object.keys(files).sort(), uri: `s3://bkt/p/${execution}/Src/`, digests };
}

function runOnInstance(deploymentId: string, revision: ReturnType<typeof store>, previous?: AppSpec) {
  const script = agentScript({
    deploymentId,
    applicationName: 'shop',
    deploymentGroupName: 'web servers',
    revisionUri: revision.uri,
    spec: revision.spec,
    previous,
    files: installPlan(revision.spec, revision.files),
    digests: revision.digests,
  });
  return spawnSync('bash', ['-c', script], {
    env: { ...process.env, PATH: `${join(work, 'bin')}:${process.env.PATH}`, FAKE_S3: join(work, 's3'), STEPLINE_INSTANCE_ROOT: join(work, 'instance') },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('the in-place deployment script, in bash', () => {
  it('installs with every hook in order, fails on ValidateService, and the rollback script brings the last good revision back', () => {
    const host = (...p: string[]) => join(work, 'instance', ...p);
    const journal = () => readFileSync(host('journal'), 'utf8').trim().split('\n');
    const v1 = store('exec-1', revisionFiles('v1', 'healthy'));
    const first = runOnInstance('d-exec-1', v1);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(host('etc/app/app.conf'), 'utf8')).toBe('version=v1\n');
    expect(statSync(host('var/www/app/run.sh')).mode & 0o777).toBe(0o750);
    expect(journal()).toStrictEqual(firstDeploymentJournal('v1'));
    expect(readFileSync(host('opt/stepline/deployment-root/shop/web_servers/last-successful'), 'utf8')).toBe('d-exec-1');

    const v2 = store('exec-2', revisionFiles('v2', 'broken', { 'app/new.html': 'new\n' }));
    const second = runOnInstance('d-exec-2', v2, v1.spec);
    expect(second.status).toBe(1);
    expect(second.stderr.trim().split('\n').at(-1)).toBe('ValidateService: scripts/hook.sh exited with 3');
    expect(readFileSync(host('var/www/app/new.html'), 'utf8')).toBe('new\n');

    const rollback = runOnInstance('d-exec-2-rollback', v1, v1.spec);
    expect(rollback.stderr).toBe('');
    expect(rollback.status).toBe(0);
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(existsSync(host('var/www/app/new.html'))).toBe(false);
    expect(journal().slice(6)).toStrictEqual(rolledBackJournal('v1', 'v2'));
    expect(readFileSync(host('opt/stepline/deployment-root/shop/web_servers/last-successful'), 'utf8')).toBe('d-exec-2-rollback');
  }, 60_000);

  it('refuses to overwrite a file no deployment wrote (DISALLOW), and ends a script at its timeout', () => {
    mkdirSync(join(work, 'instance', 'etc', 'app'), { recursive: true });
    writeFileSync(join(work, 'instance', 'etc', 'app', 'app.conf'), 'mine\n');
    const refused = runOnInstance('d-1', store('exec-1', revisionFiles('v1', 'healthy')));
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe(
      'Install: /etc/app/app.conf already exists and no earlier deployment wrote it (file_exists_behavior DISALLOW; set OVERWRITE or RETAIN)',
    );
    expect(readFileSync(join(work, 'instance', 'etc', 'app', 'app.conf'), 'utf8')).toBe('mine\n');

    rmSync(join(work, 'instance', 'etc'), { recursive: true });
    const slow = store('exec-2', revisionFiles('v2', 'healthy', { 'scripts/slow': '' }));
    const spec = parseAppSpec(
      String(revisionFiles('v2', 'healthy')['appspec.yml']).replace(/timeout: 30(\n\s+runas: root\n\s+ValidateService)/, 'timeout: 1$1'),
    );
    const started = Date.now();
    const timedOut = runOnInstance('d-2', { ...slow, spec });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(timedOut.status).toBe(1);
    expect(timedOut.stderr.trim().split('\n').at(-1)).toBe('ApplicationStart: scripts/hook.sh timed out after 1 s');
  }, 60_000);

  it('fails DownloadBundle before placing anything when the files downloaded do not match the manifest', () => {
    const v1 = store('exec-1', revisionFiles('v1', 'healthy', { 'app/read me.txt': 'hello\n' }));
    const bucketFile = (path: string) => join(work, 's3', 'bkt', 'p', 'exec-1', 'Src', path);
    writeFileSync(bucketFile('app/index.html'), '<h1>changed</h1>\n');
    rmSync(bucketFile('app/read me.txt'));

    const run = runOnInstance('d-exec-1', v1);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      'DownloadBundle: the revision downloaded from s3://bkt/p/exec-1/Src/ does not match its manifest (app/index.html: FAILED;app/read me.txt: FAILED open or read)',
    );
    expect(existsSync(join(work, 'instance', 'var', 'www', 'app'))).toBe(false);
    expect(existsSync(join(work, 'instance', 'journal'))).toBe(false);
  }, 60_000);
});
