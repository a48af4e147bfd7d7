// Picks the registry the service and the CLI use: MLflow when MLFLOW_TRACKING_URI is set, else the
// local directory MODEL_REGISTRY. The MLflow client is imported only then, so the local case loads
// nothing for it at start-up.

import type { Config } from '../config.ts';
import { createLocalRegistry } from './local.ts';
import type { Registry } from './types.ts';

export type RegistryConfig = Pick<Config, 'registry' | 'mlflow' | 'modelCacheDir'>;

export type RegistryLog = (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void;

export async function openRegistry(config: RegistryConfig, log?: RegistryLog): Promise<Registry> {
  if (config.mlflow === undefined) return createLocalRegistry(config.registry);
  const { createMlflowRegistry } = await import('./mlflow.ts');
  return createMlflowRegistry({ ...config.mlflow, cacheDir: config.modelCacheDir, log });
}
