/**
 * The manifest an execution is read through: the one of the machine it ran. Today's manifest when it
 * ran today's machine, else the one kept under its machine's hash (core's `machineManifestKey`), found by
 * hashing the definition DescribeStateMachineForExecution returns. An execution of a machine deployed
 * before manifests were kept by hash is read through today's, the best there is.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeStateMachineForExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { machineHash, machineManifestKey } from '@stepline/core';
import { type PipelineManifest, parseManifest } from './manifest';

export interface ManifestLocation {
  bucket: string;
  key: string;
}

/** A pipeline as deployed today: its manifest and where it is kept. */
export interface CurrentManifest {
  manifest: PipelineManifest;
  location: ManifestLocation;
}

export class MachineManifests {
  /** Manifests of earlier machines, by S3 key: written once, never changed. */
  private readonly kept = new Map<string, Promise<PipelineManifest | undefined>>();

  constructor(
    private readonly sfn: SFNClient,
    private readonly s3: S3Client,
  ) {}

  /** The manifest at a location, or undefined when there is none. */
  async read(location: ManifestLocation): Promise<PipelineManifest | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
      return parseManifest((await object.Body?.transformToString('utf8')) ?? '', `s3://${location.bucket}/${location.key}`);
    } catch (error) {
      if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /** The manifest of the machine the execution ran. */
  async of(current: CurrentManifest, executionArn: string): Promise<PipelineManifest> {
    const ran = await this.sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn }));
    if (ran.definition === undefined || current.manifest.machineHash === undefined) return current.manifest;
    const hash = machineHash(ran.definition);
    if (hash === current.manifest.machineHash) return current.manifest;
    const location = { bucket: current.location.bucket, key: machineManifestKey(current.location.key, hash) };
    let own = this.kept.get(location.key);
    if (!own) {
      own = this.read(location);
      this.kept.set(location.key, own);
      own.catch(() => this.kept.delete(location.key));
    }
    return (await own) ?? current.manifest;
  }
}
