// While the service serves a version from the model cache (the registry was unreachable at start), keep
// asking the registry, with backoff (1 s doubling to 30 s): once it answers and still points at the
// served version, that version is fetched (and verified) through it and the service says it serves from
// the registry again. When the alias has moved meanwhile, the hot swap's poll installs the new version.

import type { ModelRef, ModelSelector, Registry } from './types.ts';

export type CacheRecoveryOptions = {
  registry: Registry;
  name: string;
  selector: ModelSelector;
  /** The ref being served now (it may change under us through a hot swap). */
  current: () => ModelRef | undefined;
  log: (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void;
  initialMs?: number;
  maxMs?: number;
};

export function recoverFromCache(opts: CacheRecoveryOptions): { stop(): void } {
  let delay = opts.initialMs ?? 1000;
  const maxMs = opts.maxMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const tick = async () => {
    const ref = opts.current();
    if (stopped || ref === undefined || ref.origin !== 'cache') return;
    try {
      const found = await opts.registry.lookup(opts.name, opts.selector);
      if (found.version === ref.version) {
        await opts.registry.fetch(opts.name, found.version, found.alias);
        ref.origin = 'registry';
        ref.originReason = undefined;
        opts.log(
          'info',
          {
            model: { name: ref.name, version: ref.version, alias: ref.alias ?? null },
            registry: opts.registry.location,
          },
          'the registry answers again; the served version is confirmed by it',
        );
      } else {
        opts.log(
          'info',
          { model: { name: ref.name, version: ref.version }, registry_version: found.version },
          'the registry answers again and points at another version; the alias poll will swap it in',
        );
      }
      return;
    } catch {
      // Still unreachable (or refusing): try again later; /health keeps saying why.
    }
    if (stopped) return;
    delay = Math.min(delay * 2, maxMs);
    schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void tick(), delay);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
