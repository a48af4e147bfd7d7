// Doctor rule: fly.toml — service and port, health checks, auto-stop, shutdown, restarts, memory
// ([metrics]: ./fly-metrics.ts).

import {
  type Add,
  collect,
  type DoctorContext,
  isTable,
  parseDuration,
  parseMemoryMb,
  type Rule,
  type Table,
  tables,
} from '../context.ts';

// Fly.io Machine presets (memory in MB) for `[[vm]] size`; `memory` overrides.
const FLY_VM_SIZES: Record<string, number> = {
  'shared-cpu-1x': 256,
  'shared-cpu-2x': 512,
  'shared-cpu-4x': 1024,
  'shared-cpu-8x': 2048,
  'performance-1x': 2048,
  'performance-2x': 4096,
  'performance-4x': 8192,
  'performance-8x': 16384,
  'performance-16x': 32768,
};
/** Memory of the guest kernel and Fly's init, outside our process — an allowance, not a measurement. */
export const VM_OVERHEAD_MB = 32;
/** Headroom over the measured peak for traffic beyond the measurement and heap growth. */
export const HEADROOM = 1.25;

export const flyRules: Rule = (ctx) => {
  const { out, add } = collect();
  if (!ctx.flyPresent) {
    add(
      'info',
      'fly-toml-missing',
      'fly.toml',
      'no fly.toml: the Fly.io checks were skipped',
      "copy this project's fly.toml, then `fly launch --copy-config --no-deploy`",
    );
  } else if (ctx.flyError !== undefined) {
    add('error', 'fly-toml-invalid', 'fly.toml', ctx.flyError, 'fix the syntax; `fly config validate` checks it too');
  }
  if (ctx.fly) checkFly(ctx.fly, ctx, add);
  return out;
};

function checkFly(fly: Table, ctx: DoctorContext, add: Add): void {
  const F = 'fly.toml';
  if (typeof fly.app !== 'string' || fly.app === '') {
    add(
      'warning',
      'fly-no-app',
      F,
      'no `app` name',
      'set `app = "your-app-name"` (fly launch --copy-config asks for one)',
    );
  }
  const http = isTable(fly.http_service) ? fly.http_service : undefined;
  const services = tables(fly.services);
  if (!http && services.length === 0) {
    add(
      'error',
      'fly-no-service',
      F,
      'no [http_service] or [[services]]: the app gets no public address',
      'add an [http_service] with internal_port = the port the app listens on',
    );
  }

  // Port: Fly sets no PORT, so internal_port must be the port the app chooses itself.
  const listen = ctx.listenPort;
  const svcPorts: [string, unknown][] = [];
  if (http) svcPorts.push(['[http_service] internal_port', http.internal_port ?? 8080]);
  for (const [i, s] of services.entries())
    svcPorts.push([`[[services]] #${i + 1} internal_port`, s.internal_port ?? 8080]);
  for (const [what, port] of svcPorts) {
    if (listen !== undefined && Number(port) !== listen) {
      add(
        'error',
        'internal-port-mismatch',
        F,
        `${what} = ${port}${http && http.internal_port === undefined ? ' (the default)' : ''} but the app listens on ${listen} (${ctx.portSource}) → 502 Bad Gateway`,
        `set internal_port = ${listen} — or set PORT = "${port}" in [env] and EXPOSE ${port} in the Dockerfile; all three must agree`,
      );
    }
  }
  if (ctx.env.HOST && !['0.0.0.0', '::'].includes(ctx.env.HOST)) {
    add(
      'error',
      'host-not-public',
      F,
      `HOST=${ctx.env.HOST}: Fly's proxy, checks and metrics scraper reach the Machine over its network interface, not loopback`,
      'remove HOST from [env] (the default 0.0.0.0 is right in containers)',
    );
  }
  if (http && http.force_https !== true) {
    add(
      'warning',
      'no-force-https',
      F,
      '[http_service] force_https is not on: plain-HTTP requests are served',
      'set force_https = true',
    );
  }

  // Health checks: paths the app serves, ports it listens on, grace periods longer than start-up.
  type Check = { where: string; path?: string; port?: unknown; grace?: unknown; type?: unknown };
  const checks: Check[] = [];
  const push = (where: string, c: Table) => checks.push({ where, path: c.path as string, grace: c.grace_period });
  if (http) for (const [i, c] of tables(http.checks).entries()) push(`[[http_service.checks]] #${i + 1}`, c);
  for (const [si, s] of services.entries()) {
    for (const [i, c] of tables(s.http_checks).entries()) push(`[[services.http_checks]] #${si + 1}.${i + 1}`, c);
    for (const [i, c] of tables(s.checks).entries()) push(`[[services.checks]] #${si + 1}.${i + 1}`, c);
  }
  if (isTable(fly.checks)) {
    for (const [name, c] of Object.entries(fly.checks)) {
      if (!isTable(c)) continue;
      checks.push({
        where: `[checks.${name}]`,
        path: c.type === 'http' ? ((c.path as string) ?? '/') : undefined,
        port: c.port,
        grace: c.grace_period,
        type: c.type,
      });
    }
  }
  const routed = checks.filter((c) => !c.where.startsWith('[checks.'));
  if ((http || services.length) && routed.length === 0) {
    add(
      'warning',
      'no-service-checks',
      F,
      'no service health checks: Fly routes to a Machine whose model has not loaded, and a deploy does not wait for the new release to be healthy',
      'add [[http_service.checks]] with path = "/alive" (and one on "/ready"), interval = "15s", timeout = "5s"',
    );
  }
  for (const c of checks) {
    if (c.path !== undefined && !ctx.serves(c.path)) {
      add(
        'error',
        'check-path-not-served',
        F,
        `${c.where} checks GET ${c.path}, which the app does not serve (404): the check never passes and Fly routes no traffic`,
        'use path = "/alive" (liveness) or "/ready" (model loaded)',
      );
    }
    if (c.port !== undefined && listen !== undefined && Number(c.port) !== listen) {
      add(
        'error',
        'check-port-mismatch',
        F,
        `${c.where} port = ${c.port} but the app listens on ${listen}`,
        `set port = ${listen}`,
      );
    }
    const grace = parseDuration(c.grace, 'ms');
    const startup = ctx.footprint && 'startup_ms' in ctx.footprint ? ctx.footprint.startup_ms : undefined;
    if (startup !== undefined && (grace ?? 0) < startup * 2) {
      add(
        'warning',
        'grace-too-short',
        F,
        `${c.where} grace_period ${c.grace ?? 'unset (0)'} is less than twice the measured start-up (${startup} ms here; a shared-CPU Machine is slower)`,
        `set grace_period = "${Math.max(10, Math.ceil((startup * 4) / 1000))}s"`,
      );
    }
  }
  const machineChecks = http ? tables(http.machine_checks) : [];
  if (
    (http || services.length) &&
    machineChecks.length === 0 &&
    services.every((s) => tables(s.machine_checks).length === 0)
  ) {
    add(
      'info',
      'no-machine-checks',
      F,
      'no machine_checks: a release that starts but serves wrong answers is rolled out anyway',
      "add [[http_service.machine_checks]] that calls /ready and /predict on FLY_TEST_MACHINE_IP (see this project's fly.toml)",
    );
  }

  // Auto-stop with nothing left running = cold starts, or "no machines available".
  for (const [where, svc] of [
    ['[http_service]', http],
    ...services.map((s, i) => [`[[services]] #${i + 1}`, s] as const),
  ] as const) {
    if (!svc) continue;
    const stop = svc.auto_stop_machines;
    const stopping = stop === true || stop === 'stop' || stop === 'suspend';
    const min = Number(svc.min_machines_running ?? 0);
    if (stopping && svc.auto_start_machines === false) {
      add(
        'error',
        'autostop-no-autostart',
        F,
        `${where} auto_stop_machines = ${JSON.stringify(stop)} with auto_start_machines = false: once stopped, Machines never come back → "no machines available"`,
        'set auto_start_machines = true, or auto_stop_machines = "off"',
      );
    } else if (stopping && min < 1) {
      add(
        'error',
        'no-machine-running',
        F,
        `${where} auto_stop_machines = ${JSON.stringify(stop)} and min_machines_running = ${min}: when idle, no Machine is left running — the next request waits for a cold start (or fails with "no machines available" if start-up fails)`,
        'for a 24×7 service set min_machines_running = 1 (and `fly scale count 1` at least); or auto_stop_machines = "off"',
      );
    }
    const conc = isTable(svc.concurrency) ? svc.concurrency : undefined;
    if (conc) {
      const soft = Number(conc.soft_limit ?? 20);
      const hard = conc.hard_limit === undefined ? undefined : Number(conc.hard_limit);
      if (hard !== undefined && hard < soft) {
        add(
          'error',
          'concurrency-limits',
          F,
          `${where} concurrency hard_limit ${hard} < soft_limit ${soft}`,
          'make hard_limit ≥ soft_limit (see deploy/README.md for how ours were derived)',
        );
      }
      if (conc.type !== 'requests') {
        add(
          'info',
          'concurrency-connections',
          F,
          `${where} concurrency type is "${conc.type ?? 'connections'}": the proxy opens a connection per request and balances on connections`,
          'use type = "requests" for an HTTP API',
        );
      }
    }
  }

  // Shutdown: the signal we handle, and a timeout that covers the drain.
  const sig = fly.kill_signal ?? 'SIGINT';
  if (sig !== 'SIGINT' && sig !== 'SIGTERM') {
    add(
      'error',
      'kill-signal',
      F,
      `kill_signal = ${JSON.stringify(sig)}: the service drains in-flight requests only on SIGTERM or SIGINT`,
      'set kill_signal = "SIGTERM"',
    );
  }
  const killMs = parseDuration(fly.kill_timeout ?? 5, 's');
  if (ctx.config && killMs !== undefined && killMs < ctx.config.shutdownTimeoutMs + 1000) {
    add(
      'warning',
      'kill-timeout',
      F,
      `kill_timeout ${fly.kill_timeout ?? '5 (default)'} s is not above SHUTDOWN_TIMEOUT_MS=${ctx.config.shutdownTimeoutMs} + 1 s: Fly kills the Machine while requests are still draining`,
      `set kill_timeout = ${Math.ceil(ctx.config.shutdownTimeoutMs / 1000) + 5} (or lower SHUTDOWN_TIMEOUT_MS in [env])`,
    );
  }

  // Restarts: the watchdog exits non-zero; only a restart policy brings the Machine back.
  for (const r of tables(fly.restart)) {
    if (r.policy === 'never') {
      add(
        'error',
        'restart-never',
        F,
        '[[restart]] policy = "never": when the watchdog (or a crash) ends the process, the Machine stays stopped',
        'set policy = "on-failure" (or remove [[restart]]; on-failure is the default)',
      );
    }
  }
  const strategy = isTable(fly.deploy) ? fly.deploy.strategy : undefined;
  if (strategy === 'immediate') {
    add(
      'warning',
      'deploy-immediate',
      F,
      '[deploy] strategy = "immediate" replaces every Machine without waiting for health checks',
      'use strategy = "rolling" (or "bluegreen")',
    );
  }

  // [metrics]: ./fly-metrics.ts.

  // Memory: the VM must hold the measured footprint with headroom.
  const vms = tables(fly.vm);
  const vm = vms[0];
  let memMb: number | undefined;
  if (vm) {
    memMb =
      parseMemoryMb(vm.memory ?? vm.memory_mb) ??
      (typeof vm.size === 'string' ? FLY_VM_SIZES[vm.size] : undefined) ??
      256;
  } else {
    add(
      'info',
      'no-vm',
      F,
      'no [[vm]]: Machines get shared-cpu-1x with 256 MB, and `fly deploy` does not hold them to any size',
      'add [[vm]] with size and memory (see deploy/README.md)',
    );
    memMb = 256;
  }
  const fp = ctx.footprint;
  if (fp) {
    const need = Math.ceil(fp.peak_rss_mb + VM_OVERHEAD_MB);
    const want = Math.ceil(fp.peak_rss_mb * HEADROOM + VM_OVERHEAD_MB);
    if (memMb < need) {
      add(
        'error',
        'vm-memory-oom',
        F,
        `the VM has ${memMb} MB but the configured model peaks at ${fp.peak_rss_mb} MB RSS under load (+${VM_OVERHEAD_MB} MB for the guest kernel and init) → OOM kill`,
        `\`fly scale memory ${nextSize(want)}\` and set [[vm]] memory = "${nextSize(want)}mb" (or serve a smaller model)`,
      );
    } else if (memMb < want) {
      add(
        'warning',
        'vm-memory-headroom',
        F,
        `the VM has ${memMb} MB; the configured model peaks at ${fp.peak_rss_mb} MB RSS, which leaves less than ${Math.round((HEADROOM - 1) * 100)}% headroom`,
        `set [[vm]] memory = "${nextSize(want)}mb"`,
      );
    }
  }
}

function nextSize(mb: number): number {
  for (const s of [256, 512, 1024, 2048, 4096, 8192, 16384]) if (s >= mb) return s;
  return Math.ceil(mb / 1024) * 1024;
}
