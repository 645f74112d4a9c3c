import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WeightedProxy } from './proxy';
import { SmoothWeightedScheduler } from './scheduler';

describe('smooth weighted round robin', () => {
  it('gives every entry exactly its weight in each run of `total` picks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5 }), (green, rounds) => {
        const scheduler = new SmoothWeightedScheduler([
          { value: 'blue', weight: 100 - green },
          { value: 'green', weight: green },
        ]);
        for (let round = 0; round < rounds; round++) {
          const picks = Array.from({ length: 100 }, () => scheduler.pick());
          expect(picks.filter((p) => p === 'green')).toHaveLength(green);
        }
      }),
    );
  });

  it('spreads picks out instead of sending them in a burst', () => {
    const scheduler = new SmoothWeightedScheduler([
      { value: 'blue', weight: 90 },
      { value: 'green', weight: 10 },
    ]);
    const picks = Array.from({ length: 100 }, () => scheduler.pick());
    const greens = picks.flatMap((p, i) => (p === 'green' ? [i] : []));
    expect(greens.slice(1).map((at, i) => at - (greens[i] ?? 0))).toStrictEqual(Array(9).fill(10));
  });

  it('picks nothing when nothing has weight', () => {
    expect(new SmoothWeightedScheduler([{ value: 'blue', weight: 0 }]).pick()).toBeUndefined();
  });
});

describe('the weighted proxy', () => {
  const servers: Server[] = [];
  let proxy: WeightedProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  async function backend(handler: Parameters<typeof createServer>[1]): Promise<number> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  function call(port: number, path = '/'): Promise<{ status: number; version: string | undefined }> {
    return new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-stepline-version'] as string | undefined }));
      })
        .once('error', reject)
        .end();
    });
  }

  it('answers 503 with no route, and 502 (counted against it) when a backend does not answer', async () => {
    proxy = await WeightedProxy.start({ port: 0 });
    expect(await call(proxy.port)).toStrictEqual({ status: 503, version: undefined });
    const gone = await backend((_q, s) => s.end());
    await new Promise((r) => servers.pop()?.close(r));
    proxy.setRoutes([{ backend: { id: 'gone', port: gone }, weight: 100 }]);
    expect(await call(proxy.port)).toStrictEqual({ status: 502, version: 'gone' });
    expect(proxy.stats('gone')).toStrictEqual({ requests: 1, serverErrors: 1 });
  });

  it('does not count a request the client gave up on against the backend', async () => {
    let release: () => void = () => undefined;
    const slow = await backend((_q, s) => {
      release = () => s.end('late');
    });
    proxy = await WeightedProxy.start({ port: 0 });
    proxy.setRoutes([{ backend: { id: 'slow', port: slow }, weight: 100 }]);
    const req = request({ host: '127.0.0.1', port: proxy.port, path: '/', agent: false });
    req.on('error', () => undefined);
    req.end();
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect(proxy.stats('slow')).toStrictEqual({ requests: 0, serverErrors: 0 });
  });

  it('lets a removed backend finish its in-flight requests before drain resolves', async () => {
    let release: () => void = () => undefined;
    const slow = await backend((_q, s) => {
      release = () => s.end('done');
    });
    const fast = await backend((_q, s) => s.end('fast'));
    proxy = await WeightedProxy.start({ port: 0 });
    proxy.setRoutes([{ backend: { id: 'old', port: slow }, weight: 100 }]);
    const inFlight = call(proxy.port);
    await new Promise((r) => setTimeout(r, 100));
    proxy.setRoutes([{ backend: { id: 'new', port: fast }, weight: 100 }]);
    let drained = false;
    const drain = proxy.drain('old').then(() => {
      drained = true;
    });
    expect(await call(proxy.port)).toStrictEqual({ status: 200, version: 'new' });
    expect(drained).toBe(false);
    release();
    expect(await inFlight).toStrictEqual({ status: 200, version: 'old' });
    await drain;
    expect(drained).toBe(true);
  });

  it('fails no request while weights change under load, and reuses its connections to each backend', async () => {
    // Prepare: two backends that keep connections 2 s (a margin undici's default would close at once).
    let connections = 0;
    const port = async (version: string) => {
      const p = await backend((_q, s) => s.writeHead(200, { 'content-type': 'text/plain' }).end(version));
      const server = servers.at(-1) as Server;
      server.keepAliveTimeout = 2_000;
      server.on('connection', () => connections++);
      return p;
    };
    const blue = { id: 'blue', port: await port('blue') };
    const green = { id: 'green', port: await port('green') };
    proxy = await WeightedProxy.start({ port: 0 });
    const route = (g: number) =>
      proxy?.setRoutes([
        { backend: blue, weight: 100 - g },
        { backend: green, weight: g },
      ]);
    route(10);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const answers: string[] = [];
    const one = () =>
      new Promise<void>((resolve) => {
        request({ host: '127.0.0.1', port: proxy?.port, path: '/', agent }, (res) => {
          res.resume();
          res.once('end', () => {
            answers.push(`${res.statusCode} ${res.headers['x-stepline-version']}`);
            resolve();
          });
        })
          .once('error', (e) => {
            answers.push(`error ${e.message}`);
            resolve();
          })
          .end();
      });

    // Act: 8 clients send 1,200 requests while the weights change every 5 ms.
    const weights = [10, 50, 100, 0, 90];
    let step = 0;
    const changer = setInterval(() => route(weights[step++ % weights.length] ?? 0), 5);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 150; i++) await one();
      }),
    );
    clearInterval(changer);
    agent.destroy();

    // Assess
    expect(answers.filter((a) => !a.startsWith('200 '))).toStrictEqual([]);
    expect(answers).toHaveLength(1_200);
    expect(new Set(answers)).toStrictEqual(new Set(['200 blue', '200 green']));
    expect(step).toBeGreaterThan(3);
    // Connections kept alive: a handful per backend, not one per request.
    expect(connections).toBeLessThanOrEqual(2 * 8 * 2);
  });
});
