/**
 * Deployment records on disk, under `<stateDir>/deployments/<pipeline>/<execution>/<stage>/<action>.json`,
 * and which version is live per action, under `<stateDir>/live/<pipeline>/<stage>/<action>.json` (so the
 * next `stepline run` finds its blue). Each file is replaced by rename, so a reader never sees half of
 * one; versions are revision numbers compared before each write. The canary is the only writer, in one
 * process, and reads, compares and writes without yielding, so a conditional write is atomic here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type DeploymentKey, type DeploymentRecord, type DeploymentRecordStore, IN_FLIGHT_STATUSES, type StoredRecord } from '@stepline/core';

/** A path segment from a name: names may hold `.` (and so be `..`), which must not climb directories. */
export const segment = (name: string) => encodeURIComponent(name).replace(/\./g, '%2E');

function writeAtomically(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

interface RecordFile {
  revision: number;
  record: DeploymentRecord;
}

export class FileRecordStore implements DeploymentRecordStore {
  constructor(private readonly stateDir: string) {}

  private path(key: DeploymentKey): string {
    return join(this.stateDir, 'deployments', segment(key.pipeline), segment(key.executionId), segment(key.stage), `${segment(key.action)}.json`);
  }

  private read(key: DeploymentKey): RecordFile | undefined {
    return readJson(this.path(key)) as RecordFile | undefined;
  }

  async get(key: DeploymentKey): Promise<StoredRecord | undefined> {
    const file = this.read(key);
    return file && { record: file.record, version: String(file.revision) };
  }

  async create(record: DeploymentRecord): Promise<StoredRecord | undefined> {
    if (this.read(record)) return undefined;
    writeAtomically(this.path(record), { revision: 1, record } satisfies RecordFile);
    return { record, version: '1' };
  }

  async replace(record: DeploymentRecord, version: string): Promise<StoredRecord | undefined> {
    const current = this.read(record);
    if (!current || String(current.revision) !== version) return undefined;
    const revision = current.revision + 1;
    writeAtomically(this.path(record), { revision, record } satisfies RecordFile);
    return { record, version: String(revision) };
  }

  async listInFlight(pipeline: string, executionId: string): Promise<DeploymentRecord[]> {
    return this.inFlightUnder(join(this.stateDir, 'deployments', segment(pipeline), segment(executionId)));
  }

  /** In-flight records of an execution id in any pipeline (a local stop knows only the execution). */
  async listInFlightForExecution(executionId: string): Promise<DeploymentRecord[]> {
    const root = join(this.stateDir, 'deployments');
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((pipeline) => this.inFlightUnder(join(root, pipeline, segment(executionId))));
  }

  private inFlightUnder(dir: string): DeploymentRecord[] {
    if (!existsSync(dir)) return [];
    const records: DeploymentRecord[] = [];
    for (const stage of readdirSync(dir)) {
      for (const file of readdirSync(join(dir, stage))) {
        if (!file.endsWith('.json')) continue;
        const content = readJson(join(dir, stage, file)) as RecordFile | undefined;
        if (content && IN_FLIGHT_STATUSES.includes(content.record.status)) records.push(content.record);
      }
    }
    return records;
  }
}

/** The version that serves an action's traffic, as the next run needs it to start blue again. */
export interface LiveRecord {
  executionId: string;
  /**
   * The version's working copy of its artifact (under `.stepline/deployments/work/`), where it runs.
   * Absent from a record written before versions had working copies: that live version is not restarted.
   */
  workDir?: string;
  command: string;
  healthPath: string;
  updatedAt: string;
}

export class LiveRecords {
  constructor(private readonly stateDir: string) {}

  private path(key: Omit<DeploymentKey, 'executionId'>): string {
    return join(this.stateDir, 'live', segment(key.pipeline), segment(key.stage), `${segment(key.action)}.json`);
  }

  get(key: Omit<DeploymentKey, 'executionId'>): LiveRecord | undefined {
    return readJson(this.path(key)) as LiveRecord | undefined;
  }

  put(key: Omit<DeploymentKey, 'executionId'>, live: LiveRecord): void {
    writeAtomically(this.path(key), live);
  }

  delete(key: Omit<DeploymentKey, 'executionId'>): void {
    rmSync(this.path(key), { force: true });
  }
}
