/**
 * The local agent's DownloadBundle: the revision comes from the artifact store, which checks it against
 * its manifest, so a changed file fails the event before anything is installed (as `sha256sum -c` fails
 * it on an instance).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revisionFiles } from '../../../../test/helpers/appspec-revision';
import { LocalArtifactStore } from '../artifacts/store';
import { deployInPlace } from './local-agent';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'stepline-local-agent-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('the local agent', () => {
  it('fails DownloadBundle, installing nothing, when the revision no longer matches its manifest', async () => {
    const store = new LocalArtifactStore(join(work, 'artifacts'));
    const dir = await store.prepare('inplace', 'exec-1', 'Src');
    for (const [path, text] of Object.entries(revisionFiles('v1', 'healthy'))) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    await store.seal('inplace', 'exec-1', 'Src');
    writeFileSync(join(dir, 'app', 'index.html'), '<h1>changed</h1>\n');

    const deployed = deployInPlace({
      root: join(work, 'host'),
      applicationName: 'inplace',
      deploymentGroupName: 'Web',
      deploymentId: 'd-exec-1',
      appspec: 'appspec.yml',
      autoRollback: true,
      download: (into) => store.copyTo('inplace', 'exec-1', 'Src', into).then(() => undefined),
      logFile: join(work, 'deploy.log'),
      signal: new AbortController().signal,
    });

    await expect(deployed).rejects.toMatchObject({ name: 'Stepline.ActionFailed', message: expect.stringMatching(/^DownloadBundle: .*app\/index\.html/) });
    expect(existsSync(join(work, 'host', 'var'))).toBe(false);
  });
});
