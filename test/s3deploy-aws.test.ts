/** The s3-deploy function against moto_server's S3: what lands in the bucket, and what it refuses. */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3DeployHandler } from '../packages/functions/src/handlers/s3-deploy';
import { functionLogger } from '../packages/functions/src/runtime';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from './helpers/moto-server';

const skip = motoSkipReason();
const FILES: Record<string, string> = { 'index.html': '<h1>v2</h1>\n', 'css/app.css': 'h1{color:red}\n', 'img/logo.bin': '\u0000\u0001binary' };
const LOCATION = 'stepline-artifacts/site/exec-1/Site/';

describe.skipIf(skip)('s3-deploy function on moto_server', () => {
  let moto: MotoServer;
  let s3: S3Client;
  const handler = () => createS3DeployHandler({ s3: () => s3, logger: functionLogger('s3-deploy-test') });
  const task = (extra: Record<string, unknown> = {}) => ({
    pipeline: 'site',
    stage: 'Deploy',
    action: 'Publish',
    executionId: 'exec-1',
    operation: 's3deploy',
    artifact: { name: 'Site', location: LOCATION },
    bucket: 'www.example.com',
    extract: true,
    ...extra,
  });

  beforeAll(async () => {
    moto = await startMoto();
    s3 = new S3Client(motoClientConfig(moto));
  });
  afterAll(() => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    for (const bucket of ['stepline-artifacts', 'www.example.com']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const files = Object.entries(FILES).map(([path, text]) => ({
      path,
      sha256: createHash('sha256').update(text).digest('hex'),
      size: Buffer.byteLength(text),
    }));
    const manifest = { artifact: 'Site', pipeline: 'site', executionId: 'exec-1', createdAt: '2026-12-04T00:00:00.000Z', files };
    for (const [path, text] of Object.entries(FILES))
      await s3.send(new PutObjectCommand({ Bucket: 'stepline-artifacts', Key: `${LOCATION.slice('stepline-artifacts/'.length)}${path}`, Body: text }));
    // The artifact as the source function stores it (its own tests check that it writes exactly this,
    // from a GitHub tarball); the case of a build's output, which has no manifest, deletes it below.
    await s3.send(new PutObjectCommand({ Bucket: 'stepline-artifacts', Key: 'site/exec-1/Site/manifest.json', Body: JSON.stringify(manifest) }));
  });

  it('writes every file under its path and objectKey, with content type, Cache-Control, ACL and KMS key', async () => {
    const kms = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const result = await handler()(task({ objectKey: 'v2', cacheControl: 'max-age=300', cannedAcl: 'public-read', kmsEncryptionKeyArn: kms }));
    expect(result).toStrictEqual({ bucket: 'www.example.com', keys: ['v2/index.html', 'v2/css/app.css', 'v2/img/logo.bin'] });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'www.example.com' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toStrictEqual(['v2/css/app.css', 'v2/img/logo.bin', 'v2/index.html']);
    const page = await s3.send(new GetObjectCommand({ Bucket: 'www.example.com', Key: 'v2/index.html' }));
    expect(await page.Body?.transformToString()).toBe(FILES['index.html']);
    expect(page.ContentType).toBe('text/html');
    expect(page.CacheControl).toBe('max-age=300');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'www.example.com', Key: 'v2/img/logo.bin' }));
    expect(head.ContentType).toBe('application/octet-stream');
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(kms);
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'www.example.com', Key: 'v2/index.html' }));
    expect(acl.Grants?.some((g) => g.Grantee?.URI === 'http://acs.amazonaws.com/groups/global/AllUsers' && g.Permission === 'READ')).toBe(true);
  });

  it('writes one zip at objectKey when extract is false', async () => {
    expect(await handler()(task({ extract: false, objectKey: 'releases/site.zip' }))).toStrictEqual({ bucket: 'www.example.com', keys: ['releases/site.zip'] });
    const zip = await s3.send(new GetObjectCommand({ Bucket: 'www.example.com', Key: 'releases/site.zip' }));
    expect(zip.ContentType).toBe('application/zip');
    const dir = mkdtempSync(join(tmpdir(), 'stepline-zip-'));
    try {
      writeFileSync(join(dir, 'site.zip'), await (zip.Body?.transformToByteArray() ?? new Uint8Array()));
      const check =
        'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(sorted(z.namelist())); print(z.read("css/app.css").decode(), end="")';
      expect(execFileSync('python3', ['-c', check, join(dir, 'site.zip')], { encoding: 'utf8' })).toBe(
        "['css/app.css', 'img/logo.bin', 'index.html']\nh1{color:red}\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing of a file that does not match its manifest, and says which', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'stepline-artifacts', Key: 'site/exec-1/Site/index.html', Body: 'tampered' }));
    await expect(handler()(task({ extract: false, objectKey: 'site.zip' }))).rejects.toThrow('artifact Site: index.html does not match its manifest');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'www.example.com' }))).KeyCount ?? 0).toBe(0);
  });

  it("deploys a build's output as CodeBuild uploads it: no stepline manifest, every file under the artifact's prefix", async () => {
    // CodeBuild (packaging NONE) writes only the build's files; the manifest above is a source's.
    await s3.send(new DeleteObjectCommand({ Bucket: 'stepline-artifacts', Key: 'site/exec-1/Site/manifest.json' }));
    const result = await handler()(task({ objectKey: 'v3' }));
    expect([...result.keys].sort()).toStrictEqual(['v3/css/app.css', 'v3/img/logo.bin', 'v3/index.html']);
    const page = await s3.send(new GetObjectCommand({ Bucket: 'www.example.com', Key: 'v3/img/logo.bin' }));
    expect(Buffer.from((await page.Body?.transformToByteArray()) ?? []).toString()).toBe(FILES['img/logo.bin']);
  });

  it('refuses a task without a bucket, naming the field', async () => {
    const { bucket: _, ...withoutBucket } = task();
    await expect(handler()(withoutBucket)).rejects.toThrow('bucket');
  });
});
