// Overload: load shedding (503 overloaded + Retry-After, probes never shed), server timeouts that close
// idle and slow connections, and the connection cap. Each limit is forced low so that the behaviour
// shows without generating real overload (bench/overload.ts does that).

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const PREDICT = { text: 'Buy cheap iPhone now' };

async function metric(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

function port(server: TestServer): number {
  return Number(new URL(server.url).port);
}

function openSocket(p: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // resume(): read (and discard) whatever the server sends, so that its closing is seen.
    const s = connect(p, '127.0.0.1', () => resolve(s)).resume();
    s.on('error', reject);
  });
}

/** Sends the head of a POST /predict whose body never fully arrives: a request that stays in flight. */
async function stalledRequest(p: number): Promise<Socket> {
  const s = await openSocket(p);
  s.on('error', () => undefined);
  s.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text":');
  return s;
}

function closedWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readyState === 'closed') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('load shedding', () => {
  test('heap over OVERLOAD_MAX_HEAP_MB: 503 overloaded with Retry-After, counted; probes and /metrics still answer', async () => {
    const server = await startTestServer({ OVERLOAD_MAX_HEAP_MB: '1', OVERLOAD_RETRY_AFTER_S: '3' });
    try {
      await sleep(700); // one sample of the heap
      const r = await postJson(`${server.url}/predict`, PREDICT);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error, 'overloaded');
      assert.match(r.json.detail, /OVERLOAD_MAX_HEAP_MB/);
      assert.ok(r.json.request_id);
      assert.equal(r.headers.get('retry-after'), '3');
      for (const path of ['/alive', '/ready', '/health', '/metrics']) {
        assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
      }
      assert.ok((await metric(server, 'msgcls_requests_shed_total')) >= 1);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(text, /msgcls_requests_shed_total\{limit="heap"\} [1-9]/);
      // Shed requests are accounted like any other: status 503 in the HTTP metrics and the access log.
      assert.match(text, /http_server_request_duration_seconds_count\{[^}]*http_route="\/predict"[^}]*"503"\} [1-9]/);
      await sleep(50);
      const access = server.logs.records().filter((l) => l.log_type === 'access' && l.status === 503);
      assert.ok(access.length >= 1);
    } finally {
      await server.close();
    }
  });

  test('more than OVERLOAD_MAX_IN_FLIGHT requests in flight: the next is shed, /alive is not', async () => {
    const server = await startTestServer({ OVERLOAD_MAX_IN_FLIGHT: '1' });
    const stalled = await stalledRequest(port(server));
    try {
      await sleep(100);
      const r = await postJson(`${server.url}/predict`, PREDICT);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error, 'overloaded');
      assert.match(r.json.detail, /OVERLOAD_MAX_IN_FLIGHT/);
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal((await fetch(`${server.url}/alive`)).status, 200);
      stalled.destroy();
      await sleep(100);
      assert.equal(
        (await postJson(`${server.url}/predict`, PREDICT)).status,
        200,
        'admitted again once the load is gone',
      );
    } finally {
      stalled.destroy();
      await server.close();
    }
  });

  test('a lagging event loop sheds while others wait, but never a single sequential client', async () => {
    const server = await startTestServer({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1', OVERLOAD_MAX_IN_FLIGHT: '0' });
    // Block this process's event loop (the server runs in it) 60 ms out of every 70.
    const blocker = setInterval(() => {
      const end = performance.now() + 60;
      while (performance.now() < end);
    }, 10);
    try {
      await sleep(1200);
      const alone = await postJson(`${server.url}/predict`, PREDICT);
      assert.equal(alone.status, 200, 'one request at a time is never shed');
      const stalled = await stalledRequest(port(server));
      try {
        await sleep(100);
        // A lag ~50 times the limit: about 2 % of requests are admitted, the rest shed.
        const rs = await Promise.all(Array.from({ length: 10 }, () => postJson(`${server.url}/predict`, PREDICT)));
        const shed = rs.filter((r) => r.status === 503);
        assert.ok(shed.length >= 5, `${shed.length} of 10 shed`);
        for (const r of shed) assert.match(r.json.detail, /OVERLOAD_MAX_EVENT_LOOP_DELAY_MS/);
        assert.equal((await fetch(`${server.url}/ready`)).status, 200);
      } finally {
        stalled.destroy();
      }
    } finally {
      clearInterval(blocker);
      await server.close();
    }
  });

  test('default limits admit ordinary traffic', async () => {
    const server = await startTestServer();
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, () => postJson(`${server.url}/predict`, PREDICT)));
      for (const r of rs) assert.equal(r.status, 200);
      assert.equal(await metric(server, 'msgcls_requests_shed_total'), 0);
    } finally {
      await server.close();
    }
  });
});

describe('connection timeouts and cap', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      HEADERS_TIMEOUT_MS: '1000',
      REQUEST_TIMEOUT_MS: '2000',
      KEEP_ALIVE_TIMEOUT_MS: '1000',
      MAX_CONNECTIONS: '400',
    });
  });
  after(() => server.close());

  test('300 idle connections are closed after HEADERS_TIMEOUT_MS, without lasting memory growth', async () => {
    const before = process.memoryUsage().rss;
    const sockets = await Promise.all(Array.from({ length: 300 }, () => openSocket(port(server))));
    for (const s of sockets) s.on('error', () => undefined);
    await sleep(200);
    assert.ok((await metric(server, 'http_server_open_connections')) >= 300);
    // Closed within the timeout plus one connection check (1 s) and slack for a loaded machine.
    const closed = await Promise.all(sockets.map((s) => closedWithin(s, 6000)));
    assert.equal(closed.filter(Boolean).length, 300, 'every idle connection was closed by the server');
    await sleep(100);
    assert.equal(await metric(server, 'http_server_open_connections'), 1, 'only the scrape itself is open');
    // Client and server share this process: 300 connections on both ends stay far below 50 MB.
    assert.ok(process.memoryUsage().rss - before < 50 * 1024 * 1024);
  });

  test('a client that sends its head byte by byte (slowloris) gets a 408 and is cut off', async () => {
    const s = await openSocket(port(server));
    let received = '';
    s.on('data', (d) => {
      received += d.toString();
    });
    s.on('error', () => undefined);
    s.write('GET /alive HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // One byte every 100 ms: the connection is never idle, but the head never completes.
    const drip = setInterval(() => {
      if (!s.destroyed) s.write('a');
    }, 100);
    try {
      assert.ok(await closedWithin(s, 6000), 'the slow connection was closed');
      assert.match(received, /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
  });

  test('a body that never completes is cut off after REQUEST_TIMEOUT_MS', async () => {
    const s = await stalledRequest(port(server));
    assert.ok(await closedWithin(s, 8000));
  });

  test('an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const s = await openSocket(port(server));
    s.on('error', () => undefined);
    s.write('GET /alive HTTP/1.1\r\nHost: x\r\n\r\n');
    const t0 = performance.now();
    assert.ok(await closedWithin(s, 6000));
    assert.ok(performance.now() - t0 >= 900);
  });

  test('beyond MAX_CONNECTIONS new connections are dropped and counted', async () => {
    const sockets = await Promise.all(Array.from({ length: 420 }, () => openSocket(port(server))));
    for (const s of sockets) s.on('error', () => undefined);
    try {
      // The 20 beyond the cap are closed at once (and no scrape can get in while the cap is reached).
      const dropped = await closedWithinCount(sockets, 500);
      assert.ok(dropped >= 20, `${dropped} connections were dropped at once`);
      for (const s of sockets) s.destroy();
      await sleep(200);
      assert.ok((await metric(server, 'msgcls_connections_dropped_total')) >= 20);
      assert.equal((await json(await fetch(`${server.url}/alive`))).status, 'ok');
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

async function closedWithinCount(sockets: Socket[], ms: number): Promise<number> {
  const closed = await Promise.all(sockets.map((s) => closedWithin(s, ms)));
  return closed.filter(Boolean).length;
}
