import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { s3Body } from '../../../../test/helpers/lambda-events';
import { S3Artifact } from './artifact';

const s3 = mockClient(S3Client);
const missing = () => new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } });
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('S3Artifact', () => {
  beforeEach(() => s3.reset());

  it('reads a CodeBuild upload (no stepline manifest) with S3 checksum validation on', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    s3.on(GetObjectCommand, { Key: 'web/e1/App/taskdef.json' }).resolves({ Body: s3Body('{"family":"web"}') as never });
    const artifact = new S3Artifact(new S3Client({}), 'App', 'bkt/web/e1/App/');
    expect(await artifact.has('taskdef.json')).toBe(true);
    expect(await artifact.has('imageDetail.json')).toBe(false);
    expect(await artifact.read('taskdef.json')).toBe('{"family":"web"}');
    expect(s3.commandCalls(GetObjectCommand, { Key: 'web/e1/App/taskdef.json' })[0]?.args[0].input.ChecksumMode).toBe('ENABLED');
  });

  it('takes a build’s own manifest.json for a file like any other, and verifies a stepline manifest', async () => {
    // The reader's unit test: S3 answers with what the producers store (a build's own file, and the
    // source function's manifest, whose writing source/store's tests and the rehearsal check).
    s3.on(GetObjectCommand, { Key: 'web/e1/App/manifest.json' }).resolves({ Body: s3Body('{"name":"my-app"}') as never });
    s3.on(GetObjectCommand, { Key: 'web/e1/App/a.txt' }).resolves({ Body: s3Body('a') as never });
    expect(await new S3Artifact(new S3Client({}), 'App', 'bkt/web/e1/App/').read('a.txt')).toBe('a');

    const manifest = { artifact: 'Src', pipeline: 'web', executionId: 'e1', createdAt: 'now', files: [{ path: 'a.txt', sha256: sha('b'), size: 1 }] };
    s3.on(GetObjectCommand, { Key: 'web/e1/Src/manifest.json' }).resolves({ Body: s3Body(JSON.stringify(manifest)) as never });
    s3.on(GetObjectCommand, { Key: 'web/e1/Src/a.txt' }).resolves({ Body: s3Body('a') as never });
    await expect(new S3Artifact(new S3Client({}), 'Src', 'bkt/web/e1/Src/').read('a.txt')).rejects.toThrow(/does not match its manifest/);
  });

  it('says a 403 may be a missing object read without s3:ListBucket', async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', $metadata: { httpStatusCode: 403 } }),
    );
    await expect(new S3Artifact(new S3Client({}), 'App', 'bkt/web/e1/App/').read('taskdef.json')).rejects.toThrow(/s3:ListBucket/);
  });
});
