// The Python interpreter of the slower suites (MLflow server, scikit-learn → ONNX, a tiny BERT,
// schemathesis, an Open Inference Protocol client): $MSGCLS_PYTHON, else <repo>/.venv/bin/python as
// made by scripts/python-venv.sh. Suites that need it fail with that instruction when it is missing.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export function pythonPath(): string {
  const path = process.env.MSGCLS_PYTHON ?? join(REPO_ROOT, '.venv', 'bin', 'python');
  if (!existsSync(path)) {
    throw new Error(
      `no Python venv at ${path}: run \`bash scripts/python-venv.sh\` (or set MSGCLS_PYTHON to a python with requirements-test.txt installed)`,
    );
  }
  return path;
}
