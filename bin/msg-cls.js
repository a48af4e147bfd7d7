#!/usr/bin/env -S node --max-semi-space-size=2 --max-old-space-size=1024
// Entry point. Plain JavaScript on purpose: it checks the Node.js version before any TypeScript source
// loads (Node 20 would die on the ".ts" extension), makes sure `serve` runs with the V8 memory flags
// however it was launched (./runtime.js), and turns on Node's compile cache (V8 code cache and the
// TypeScript type-stripping results, in NODE_COMPILE_CACHE or the OS temp dir) before the sources load,
// which roughly halves start-up time after the first run. The shebang carries the flags so that running
// the installed `msg-cls` needs no re-execution.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem, reexecWithV8Flags } from './runtime.js';

const problem = nodeVersionProblem();
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
const args = process.argv.slice(2);
if (!(args[0] === 'serve' && reexecWithV8Flags(fileURLToPath(import.meta.url), args))) {
  module.enableCompileCache?.();
  // The repository runs its TypeScript; the npm package ships it compiled (scripts/pack.ts).
  const source = new URL('../src/cli/main.ts', import.meta.url);
  const compiled = new URL('../src/cli/main.js', import.meta.url);
  if (!existsSync(source) && !existsSync(compiled)) {
    process.stderr.write(
      'msg-cls: this package was packed without its compiled JavaScript: pack it with `npm pack --ignore-scripts=false` (the prepack script compiles src/)\n',
    );
    process.exit(1);
  }
  const { main } = await import(existsSync(source) ? source.href : compiled.href);
  process.exitCode = await main(args);
}
