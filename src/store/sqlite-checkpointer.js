// Worker thread of the SQLite store: copies the write-ahead log into the database file (a PASSIVE
// checkpoint, with its fsyncs) every `intervalMs`, on its own connection. Done on the main thread —
// SQLite's automatic checkpoint runs inside whichever commit crosses the WAL size limit — it doubled
// the time a batch write blocked the event loop. A passive checkpoint never waits for, nor blocks,
// the writer. (Plain JavaScript, like ./watchdog-worker.js: a worker file is loaded as it is.)

import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const db = new DatabaseSync(workerData.file, { timeout: 0 });
const timer = setInterval(() => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // The main connection's automatic checkpoint (at a larger WAL size) is the fallback.
  }
}, workerData.intervalMs);

parentPort?.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {}
  db.close();
  parentPort?.close();
});
