import { Agent, createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
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
    // Prepare: two backends that keep connections 2 s (the proxy must not hold an idle one longer).
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

  /** Sends raw bytes on one connection and resolves with all the proxy wrote back once it has `until`. */
  function raw(port: number, bytes: string, until: (text: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (until(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(bytes);
    });
  }
  const count = (text: string, what: string) => text.split(what).length - 1;

  it('forwards bodies either way (sized and chunked) with its own framing, and keeps repeated headers', async () => {
    // Prepare: a backend that echoes the request's method, body and framing, in pieces, with two cookies.
    const port = await backend((q, s) => {
      const chunks: Buffer[] = [];
      q.on('data', (c: Buffer) => chunks.push(c));
      q.on('end', () => {
        s.writeHead(201, { 'set-cookie': ['a=1', 'b=2'], connection: 'keep-alive, x-private', 'x-private': 'hop' });
        s.write(
          `${q.method} ${q.headers['content-length'] ?? '-'} ${q.headers['transfer-encoding'] ?? '-'} ${q.headers.connection ?? '-'} ${q.headers['x-private'] ?? '-'}|`,
        );
        setTimeout(() => s.end(Buffer.concat(chunks)), 5);
      });
    });
    proxy = await WeightedProxy.start({ port: 0 });
    proxy.setRoutes([{ backend: { id: 'echo', port }, weight: 100 }]);
    const send = (headers: Record<string, string | number>, body: string[]) =>
      new Promise<{ status: number; body: string; cookies: string[] | undefined; private: unknown; version: unknown }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: proxy?.port, method: 'POST', path: '/', agent: false, headers }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              cookies: res.headers['set-cookie'],
              private: res.headers['x-private'],
              version: res.headers['x-stepline-version'],
            }),
          );
        });
        req.on('error', reject);
        for (const part of body) req.write(part);
        req.end();
      });

    // Act
    const sized = await send({ 'content-length': 11 }, ['hello', ' world']);
    const chunked = await send({ 'transfer-encoding': 'chunked', 'x-private': 'from the client', connection: 'x-private' }, ['a'.repeat(70_000), 'b']);

    // Assess
    expect(sized).toStrictEqual({ status: 201, body: 'POST 11 - - -|hello world', cookies: ['a=1', 'b=2'], private: undefined, version: 'echo' });
    expect(chunked.body).toBe(`POST - chunked - -|${'a'.repeat(70_000)}b`);
    expect(chunked.status).toBe(201);
  });

  it('answers pipelined requests in order, HEAD without a body, and refuses what it cannot read or forward', async () => {
    const port = await backend((q, s) => s.writeHead(200, { 'content-type': 'text/plain' }).end(`answer to ${q.url}`));
    proxy = await WeightedProxy.start({ port: 0 });
    proxy.setRoutes([{ backend: { id: 'v1', port }, weight: 100 }]);

    const pipelined = await raw(
      proxy.port,
      'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      (t) => t.includes('answer to /3'),
    );
    const answers = pipelined.split('HTTP/1.1 200 OK').slice(1);
    expect(answers).toHaveLength(3);
    expect(answers[0]).toContain('answer to /1');
    expect(answers[1]).not.toContain('answer to');
    expect(answers[2]).toContain('connection: close');
    expect(answers[2]).toContain('answer to /3');

    const garbage = await raw(proxy.port, 'HELLO\r\n\r\n', (t) => t.includes('\r\n\r\n') && t.includes('\n', t.indexOf('\r\n\r\n') + 4));
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage).toContain('stepline: the request could not be read');
    const upgrade = await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', (t) => t.endsWith('\n'));
    expect(upgrade).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(upgrade).toContain('does not forward protocol upgrades');
    // Both framings at once: a backend could read the body otherwise than the proxy (request smuggling).
    const smuggled = await raw(
      proxy.port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /4 HTTP/1.1\r\n\r\n',
      (t) => t.endsWith('\n'),
    );
    expect(smuggled).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(smuggled).toContain('both content-length and transfer-encoding');
    expect(proxy.stats('v1')).toStrictEqual({ requests: 3, serverErrors: 0 });
  });

  it('answers an HTTP/1.0 client and a backend that frames its answer by closing, and says 100 Continue itself', async () => {
    const port = await backend((q, s) => {
      if (q.url === '/close') {
        // No length and no chunks: the answer ends when the backend closes the connection.
        s.socket?.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end');
        return;
      }
      q.resume();
      q.on('end', () => s.end('ok'));
    });
    proxy = await WeightedProxy.start({ port: 0 });
    proxy.setRoutes([{ backend: { id: 'v1', port }, weight: 100 }]);

    const chunkedToClient = await raw(proxy.port, 'GET /close HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('0\r\n\r\n'));
    expect(chunkedToClient).toContain('transfer-encoding: chunked');
    expect(chunkedToClient).toContain('d\r\nuntil the end\r\n0\r\n\r\n');
    const http10 = await raw(proxy.port, 'GET /close HTTP/1.0\r\n\r\n', () => false);
    expect(http10).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(http10).toContain('connection: close');
    expect(http10.endsWith('\r\n\r\nuntil the end')).toBe(true);
    const continued = await raw(proxy.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi', (t) => t.endsWith('ok'));
    expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(count(continued, 'HTTP/1.1')).toBe(2);
  });
});
