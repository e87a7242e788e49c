/** `status -o table`: the report as aligned text for people. */
import type { StatusReport } from '../model/status-report.ts';
import { DEFAULT_WEIGHT } from '../model/traffic-policy.ts';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n');
}

/** `, weight 300, zone eu-west-1a`: what is not the default about a cluster's traffic share and place. */
function clusterTraffic(c: StatusReport['services'][number]['clusters'][number]): string {
  const parts = [c.weight === DEFAULT_WEIGHT ? undefined : `weight ${c.weight}`, c.region === undefined ? undefined : `region ${c.region}`, c.zone === undefined ? undefined : `zone ${c.zone}`];
  const shown = parts.filter((p) => p !== undefined);
  return shown.length === 0 ? '' : `, ${shown.join(', ')}`;
}

export function formatStatusTable(r: StatusReport): string {
  const out: string[] = [];
  out.push(`Clusterset as seen from ${r.cluster} (${r.source}) at ${r.generatedAt}: ${r.ready ? 'READY' : 'NOT READY'}`);
  out.push('');
  out.push(
    table([
      ['CLUSTER', 'STATE', 'LEASE AGE', 'EXPORTS', 'REASON'],
      ...r.clusters.map((c) => [
        c.id,
        c.state,
        c.leaseAgeSeconds === undefined ? '-' : `${c.leaseAgeSeconds}s/${c.leaseDurationSeconds ?? '?'}s`,
        String(c.exports),
        c.reason ?? '',
      ]),
    ]),
  );
  out.push('');
  if (r.services.length === 0) out.push('No imported services.');
  else {
    out.push(
      table([
        ['SERVICE', 'TYPE', 'POLICY', 'SERVING', 'CONFLICTS'],
        ...r.services.map((s) => [
          `${s.namespace}/${s.name}`,
          s.type + (s.vips.length > 0 ? ` (VIP ${s.vips.join(',')})` : ''),
          `${s.policy} (${s.policySource === 'annotation' ? 'annotation' : 'global'})`,
          s.clusters.filter((c) => c.serving).map((c) => `${c.id} (${c.readyEndpoints}/${c.endpoints} ready${clusterTraffic(c)})`).join(', ') || 'none',
          s.conflicts.map((c) => `${c.reason} (winner ${c.winner})`).join(', '),
        ]),
      ]),
    );
    const idle = r.services.flatMap((s) => s.clusters.filter((c) => !c.serving).map((c) => `  ${s.namespace}/${s.name} not from ${c.id}: ${c.reason}${clusterTraffic(c)}`));
    if (idle.length > 0) out.push('', 'Not serving:', ...idle);
  }
  if (r.exports.length > 0) {
    out.push('', `ServiceExports of ${r.cluster}:`);
    for (const e of r.exports) {
      const conds = e.conditions.map((c) => `${c.type}=${c.status}${c.reason !== '' ? `(${c.reason})` : ''}`).join(' ') || 'no conditions yet';
      out.push(`  ${e.namespace}/${e.name}: ${conds}`);
      for (const c of e.conditions) if (c.status !== (c.type === 'Conflict' ? 'False' : 'True') && c.message !== '') out.push(`    ${c.type}: ${c.message}`);
    }
  }
  if (r.problems.length > 0) out.push('', 'Problems:', ...r.problems.map((p) => `  ${p.severity}: ${p.text}`));
  if (!r.ready) out.push('', 'Not ready:', ...r.notReady.map((n) => `  ${n}`));
  return out.join('\n');
}
