import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { motoClientConfig, motoForSuite, motoSkipReason } from './helpers/moto-server';

const skip = motoSkipReason();

describe.skipIf(skip)('moto_server harness', () => {
  const moto = motoForSuite();

  it('answers S3 faithfully, If-None-Match included', async () => {
    const s3 = new S3Client(motoClientConfig(moto()));
    await s3.send(new CreateBucketCommand({ Bucket: 'stepline-test' }));
    await s3.send(new PutObjectCommand({ Bucket: 'stepline-test', Key: 'k', Body: 'one', IfNoneMatch: '*' }));
    await expect(s3.send(new PutObjectCommand({ Bucket: 'stepline-test', Key: 'k', Body: 'two', IfNoneMatch: '*' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
    await moto().reset();
    await expect(s3.send(new PutObjectCommand({ Bucket: 'stepline-test', Key: 'k', Body: 'x' }))).rejects.toThrow();
  });
});
