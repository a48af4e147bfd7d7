// The doctor's report as text (`msg-cls doctor`; --json prints the DoctorReport itself).

import type { DoctorReport } from './index.ts';

export function formatReport(r: DoctorReport): string {
  const out: string[] = [];
  const files = [
    r.files.fly_toml && 'fly.toml',
    r.files.dockerfile && 'Dockerfile',
    r.files.dockerignore && '.dockerignore',
  ].filter(Boolean);
  out.push(`msg-cls doctor: ${r.dir} (${files.join(', ') || 'no deployment files'})`);
  if (r.footprint && 'startup_ms' in r.footprint) {
    const f = r.footprint;
    out.push(
      `measured: ${f.model}: ready in ${f.startup_ms} ms, peak RSS ${f.peak_rss_mb} MB after ${f.requests} requests in ${f.load_ms / 1000} s`,
    );
  } else if (r.footprint) {
    out.push(`footprint: peak RSS ${r.footprint.peak_rss_mb} MB (${r.footprint.source})`);
  }
  out.push('');
  for (const f of r.findings) {
    out.push(`${f.severity.toUpperCase().padEnd(7)} ${f.file}: ${f.message}`);
    out.push(`        fix: ${f.fix}`);
  }
  if (r.findings.length === 0) out.push('no problems found');
  const s = r.summary;
  out.push('', `${s.errors} error(s), ${s.warnings} warning(s), ${s.infos} note(s)`);
  return `${out.join('\n')}\n`;
}
