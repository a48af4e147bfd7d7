// What every doctor rule sees: the deployment as read from DIR (fly.toml, the Dockerfile, .dockerignore),
// the environment the service will get there (Dockerfile ENV, then fly.toml [env]), the app configuration
// that environment gives, the routes the app serves with it, and the measured footprint. Rules are pure
// functions of this context (./rules/*.ts), so each is tested on its own inputs.

import type { Config } from '../config.ts';
import type { Dockerfile, Instruction } from './dockerfile.ts';
import type { Footprint } from './measure.ts';

export type Severity = 'error' | 'warning' | 'info';

export type Finding = {
  id: string;
  severity: Severity;
  /** The file (relative to DIR) the finding is about, or "app" for the service's own config. */
  file: string;
  message: string;
  fix: string;
};

export type Table = Record<string, unknown>;
export const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);
export const tables = (v: unknown): Table[] => (Array.isArray(v) ? v.filter(isTable) : isTable(v) ? [v] : []);

export type DoctorContext = {
  /** fly.toml parsed; undefined when missing or invalid. */
  fly: Table | undefined;
  flyPresent: boolean;
  /** Why fly.toml could not be parsed. */
  flyError: string | undefined;
  /** fly.toml [env] as written. */
  flyEnv: Table;
  dockerfileName: string;
  df: Dockerfile | undefined;
  /** The final stage's instructions (empty without a Dockerfile). */
  final: Instruction[];
  ignoreName: string;
  ignoreText: string | undefined;
  /** The environment the service will see: Dockerfile ENV, then fly.toml [env]. */
  env: Record<string, string>;
  /**
   * Names of the secrets the platform sets (`fly secrets list`, given with --secrets): the doctor cannot
   * read them from the files, and some rules depend on whether one is set (ADMIN_TOKEN and /metrics).
   */
  secretNames: string[];
  config: Config | undefined;
  /** Why the service would refuse that environment (ConfigError problems). */
  configProblems: string[];
  listenPort: number | undefined;
  /** Where the port comes from, for messages ("PORT=8080", "the default PORT 8000"). */
  portSource: string;
  /** Whether the app, built with the deployment's configuration, serves GET path. */
  serves(path: string): boolean;
  footprint: Footprint | { peak_rss_mb: number; source: string } | undefined;
};

export type Add = (severity: Severity, id: string, file: string, message: string, fix: string) => void;

/** A findings list and the `add` that appends to it. */
export function collect(): { out: Finding[]; add: Add } {
  const out: Finding[] = [];
  return { out, add: (severity, id, file, message, fix) => out.push({ id, severity, file, message, fix }) };
}

/** A rule: the findings for one part of the deployment. */
export type Rule = (ctx: DoctorContext) => Finding[];

export function finding(severity: Severity, id: string, file: string, message: string, fix: string): Finding {
  return { id, severity, file, message, fix };
}

/** Fly durations: "15s", "1m30s", "500ms", or a bare number of `unit`s. */
export function parseDuration(v: unknown, unit: 'ms' | 's'): number | undefined {
  if (typeof v === 'number') return unit === 's' ? v * 1000 : v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * (unit === 's' ? 1000 : 1);
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Fly memory: 512 (MB), "512mb", "1gb", "2GB". */
export function parseMemoryMb(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(mb|m|gb|g|mib|gib)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? 'mb').toLowerCase();
  return Number(m[1]) * (unit.startsWith('g') ? 1024 : 1);
}
