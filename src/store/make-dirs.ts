// `mkdir -p` that ends. Node's recursive mkdirSync spins at 100 % CPU forever where the kernel answers
// ENOENT for a child of an existing folder (/proc/nope: mkdir → ENOENT, parent → EEXIST, retry…;
// measured on Node 24.22), a synchronous hang no timer or signal handler can interrupt. Walking up to the
// nearest existing folder and creating each missing one once is bounded by the path's depth.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}
