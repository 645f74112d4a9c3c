import { describe, expect, it } from 'vitest';
import { webhookStorm } from './webhook-storm';

describe('a storm of signed deliveries at stepline serve', () => {
  it('starts exactly one execution per delivery id, in QUEUED order, and never answers 5xx', async () => {
    const result = await webhookStorm(25);
    expect(Object.keys(result.statuses).filter((s) => Number(s) >= 500)).toStrictEqual([]);
    expect(result.requests).toBe(50);
    expect(result.wrongCounts).toStrictEqual([]);
    expect(result.executions).toBe(25);
    expect(result.outOfOrder).toBe(0);
    expect(result.failed).toStrictEqual([]);
  }, 120_000);
});
