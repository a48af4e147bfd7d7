// What the service needs from a model registry, whichever it is: the local directory registry
// (./local.ts) or an MLflow tracking server (./mlflow.ts, chosen when MLFLOW_TRACKING_URI is set).
// The lifecycle (src/server.ts) resolves a selector to a version with `lookup` (cheap: it is what
// alias polling calls), then `fetch`es that version's files to a local directory and loads them.

export type ModelSelector = { alias?: string; version?: string };

export type ModelRef = {
  name: string;
  version: string;
  /** The alias the version was resolved through, if any. */
  alias: string | undefined;
  /** Local directory holding the version's files (for MLflow: the verified download in the cache). */
  dir: string;
  /**
   * Where the files came from: `registry` (read or downloaded now) or `cache` (the registry was
   * unreachable and the last version resolved for this alias was taken from MODEL_CACHE_DIR).
   */
  origin?: 'registry' | 'cache';
  /** With origin `cache`: why the registry was not used (for /health and the log). */
  originReason?: string;
};

export type VersionInfo = {
  version: string;
  created_at: string | undefined;
  format: string | undefined;
  aliases: string[];
  metrics: Record<string, unknown> | undefined;
};

export type ModelInfo = {
  name: string;
  versions: VersionInfo[];
  aliases: Record<string, string>;
};

export type Registry = {
  readonly kind: 'local' | 'mlflow';
  /** Where the registry is, for logs, /health and messages (never with credentials). */
  readonly location: string;
  /** The version a selector points at now (an exact version is checked to exist). */
  lookup(name: string, selector: ModelSelector): Promise<{ version: string; alias: string | undefined }>;
  /** Makes a version's files available in a local directory (downloading them when needed). */
  fetch(name: string, version: string, alias?: string): Promise<ModelRef>;
  /** lookup + fetch. */
  resolve(name: string, selector: ModelSelector): Promise<ModelRef>;
  list(name?: string): Promise<ModelInfo[]>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  deleteAlias(name: string, alias: string): Promise<boolean>;
};
