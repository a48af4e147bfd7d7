// Where the model registry is when MODEL_REGISTRY / --registry do not say: ./models when the current
// directory has one (a checkout, the container's /app), else the registry bundled with msg-cls (the
// default spam/ham model in the package's models/), so that an installed `msg-cls serve` works from any
// directory. For reading only: `msg-cls train` keeps writing to ./models.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLED_REGISTRY = fileURLToPath(new URL('../../models', import.meta.url));

export function defaultRegistry(cwd = process.cwd()): string {
  return existsSync(resolve(cwd, 'models')) ? './models' : BUNDLED_REGISTRY;
}
