/**
 * test/reliability/webhook-storm with a large count: N signed deliveries, each sent twice, all at once,
 * at an in-process `stepline serve` with a QUEUED pipeline. Prints the HTTP statuses, executions per
 * delivery id, executions out of QUEUED order, and how long accepting and running them took.
 *
 *   npx tsx bench/webhook-storm/index.ts [deliveries=200]
 */
import { loadavg } from 'node:os';
import { webhookStorm } from '../../test/reliability/webhook-storm';

const deliveries = Number(process.argv[2] ?? 200);
console.log(
  `bench/webhook-storm: ${deliveries} deliveries, each twice; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const r = await webhookStorm(deliveries);
console.log(`requests ${r.requests}, statuses ${JSON.stringify(r.statuses)}`);
console.log(`executions ${r.executions} for ${r.deliveries} delivery ids; ids with other than one execution: ${r.wrongCounts.length}`);
console.log(`ended out of QUEUED order: ${r.outOfOrder}; not succeeded: ${r.failed.length}${r.failed[0] ? ` (first: ${r.failed[0]})` : ''}`);
console.log(
  `all answered in ${r.acceptSeconds.toFixed(2)} s; all executions ended after ${r.drainSeconds.toFixed(1)} s (${((r.drainSeconds / r.executions) * 1000).toFixed(0)} ms each, one at a time)`,
);
const held = Object.keys(r.statuses).every((s) => Number(s) < 500) && r.wrongCounts.length === 0 && r.outOfOrder === 0 && r.failed.length === 0;
console.log(held ? 'held' : 'FAILED');
process.exitCode = held ? 0 : 1;
