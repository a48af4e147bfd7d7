// When nothing reads stdout, log lines are dropped and counted, not buffered until the heap dies.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { LineBatcher, stdoutDestination } from '../../src/monitoring/logging.ts';

describe('stdout destination', () => {
  test('a stalled reader: memory stays bounded and the dropped lines are counted', async () => {
    // `sleep` never reads its stdin: writes to that pipe stall once the kernel's pipe buffer is full.
    const sink = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    let dest: ReturnType<typeof stdoutDestination> | undefined;
    try {
      const fd = (sink.stdin as unknown as { _handle: { fd: number } })._handle.fd;
      let dropped = 0;
      dest = stdoutDestination(fd, 256 * 1024, (n) => {
        dropped += n;
      });
      // The fd belongs to the child's pipe handle: errors while tearing down are expected.
      dest.on('error', () => undefined);
      const batcher = new LineBatcher(dest);
      const line = `${JSON.stringify({ log_type: 'access', pad: 'x'.repeat(200) })}\n`;
      const written = 20_000; // ~4.5 MB: far more than the pipe (64 KiB) and the bound (256 KiB) hold
      for (let i = 0; i < written; i++) {
        batcher.write(line);
        if (i % 500 === 0) await new Promise((r) => setImmediate(r));
      }
      batcher.drain();
      await new Promise((r) => setImmediate(r));
      assert.ok(dropped > written / 2, `dropped ${dropped} of ${written}`);
      assert.ok(dropped < written, 'some lines went through');
    } finally {
      // The writer's thread is blocked on the full pipe until the reader goes away.
      sink.kill();
      await new Promise((r) => sink.once('exit', r));
      dest?.destroy();
    }
  });

  test('the batcher writes lines in order, in few chunks, soon', async () => {
    const chunks: string[] = [];
    const batcher = new LineBatcher({ write: (c: string) => chunks.push(c) > 0 });
    batcher.write('a\n');
    batcher.write('b\n');
    assert.deepEqual(chunks, [], 'nothing written synchronously');
    await new Promise((r) => setImmediate(r));
    batcher.write('c\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(chunks, ['a\nb\nc\n']);
    batcher.write('d\n');
    await new Promise<void>((r) => batcher.flush(() => r()));
    assert.deepEqual(chunks, ['a\nb\nc\n', 'd\n'], 'flush writes at once');
  });
});
