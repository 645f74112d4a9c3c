import { emptyGateState } from '@stepline/core';
import { GateConflictError } from './errors';
import type { GateDocument, GateStore, StoredGate } from './store';

/**
 * A gate store in this process's memory, with the same conditional-write rules as S3: for tests, and
 * for a single process that needs no durability.
 */
export class MemoryGateStore implements GateStore {
  private readonly documents = new Map<string, { text: string; etag: string }>();
  private version = 0;
  /** Writes refused so far, for tests that provoke conflicts. */
  conflicts = 0;

  async load(pipeline: string): Promise<StoredGate> {
    const stored = this.documents.get(pipeline);
    if (!stored) return { document: { version: 1, pipeline, state: emptyGateState() }, etag: undefined };
    return { document: JSON.parse(stored.text) as GateDocument, etag: stored.etag };
  }

  async save(document: GateDocument, etag: string | undefined): Promise<string> {
    const current = this.documents.get(document.pipeline);
    if (current?.etag !== etag) {
      this.conflicts++;
      throw new GateConflictError(document.pipeline);
    }
    const next = `"v${++this.version}"`;
    this.documents.set(document.pipeline, { text: JSON.stringify(document), etag: next });
    return next;
  }
}
