// Where the SQLite store's worker thread starts (./sqlite.ts). Plain JavaScript on purpose: Node's compile
// cache (V8 code cache and type-stripping results), turned on in the main thread by bin/msg-cls.js, does
// not reach a worker thread, so a worker loading ./sqlite-worker.ts and its imports directly strips their
// types again at every start — loading the type stripper itself (WebAssembly) for it. Measured on the dev
// VM: ~95 ms from new Worker() to the store open and +28 MB RSS, against ~40 ms and none with the cache.
// This file turns the cache on (when the main thread has it: the same directory, NODE_COMPILE_CACHE or the
// OS temp dir) before the TypeScript loads.

import module from 'node:module';
import { workerData } from 'node:worker_threads';

if (workerData.compileCache) module.enableCompileCache?.();
await import(workerData.entry);
