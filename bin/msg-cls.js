#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point. Plain JavaScript on purpose: it turns on Node's compile cache (V8 code cache and the
// TypeScript type-stripping results, in NODE_COMPILE_CACHE or the OS temp dir) before any of the
// TypeScript sources load, which roughly halves start-up time after the first run.
// --max-semi-space-size=2 (in the shebang, `npm start` and the Dockerfile; V8 reads it only at start):
// V8's default young generation grows to tens of MB under load, which took RSS from ~115 MB to ~230 MB
// for the same throughput (measured with bench/run.ts).
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
