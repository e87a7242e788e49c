/** The "try these" banner printed once the embedded default has synced: real names from the state. */
import type { DnsServerConfig } from '../config/serve-config.ts';
import type { ServiceEntry, Snapshot } from '../model/snapshot.ts';

/** The banner names a handful of services; a 10,000-service state must not flood the terminal. */
const LISTED_SERVICES = 8;

/** IPv6 hosts need brackets inside a URL. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function byName(a: ServiceEntry, b: ServiceEntry): number {
  return `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);
}

export function tryLines(snapshot: Snapshot, config: DnsServerConfig, port: number, httpPort: number): string {
  const zone = config.dns.zones[0]!;
  const dig = `dig @${config.listen.host} -p ${port}`;
  const http = `http://${urlHost(config.httpListen.host)}:${httpPort}`;
  const fqdn = (s: ServiceEntry): string => `${s.name}.${s.namespace}.svc.${zone}`;
  const services = [...snapshot.services.values()].sort(byName);
  // Prefer a service exported by several clusters: it shows policy and per-cluster names best.
  const clusterSetIP =
    services.find((s) => s.type === 'ClusterSetIP' && s.vips.length === 0 && s.backends.length > 1) ??
    services.find((s) => s.type === 'ClusterSetIP');
  const headless = services.find((s) => s.type === 'Headless');
  const withNamedPort = services.find((s) => s.ports.some((p) => p.name !== ''));

  const rows: [string, string][] = [];
  if (clusterSetIP) {
    rows.push([`${dig} ${fqdn(clusterSetIP)}`, `ClusterSetIP, policy ${config.dns.policy}`]);
    const remote = clusterSetIP.backends.find((b) => b.cluster !== snapshot.localCluster) ?? clusterSetIP.backends[0];
    if (config.dns.clusterNames && remote) rows.push([`${dig} ${remote.cluster}.${fqdn(clusterSetIP)}`, `cluster ${remote.cluster} only`]);
  }
  if (headless) {
    rows.push([`${dig} ${fqdn(headless)}`, 'headless: ready endpoints of healthy clusters']);
    const named = headless.backends.flatMap((b) => b.endpoints.filter((e) => e.ready && e.hostname).map((e) => `${e.hostname}.${b.cluster}`))[0];
    if (named) rows.push([`${dig} ${named}.${fqdn(headless)}`, 'one endpoint']);
  }
  if (withNamedPort) {
    const p = withNamedPort.ports.find((x) => x.name !== '')!;
    rows.push([`${dig} _${p.name}._${p.protocol.toLowerCase()}.${fqdn(withNamedPort)} SRV`, 'named port']);
  }
  rows.push([`${dig} dns-version.${zone} TXT`, 'schema version']);
  const width = Math.max(...rows.map(([cmd]) => cmd.length)) + 2;
  const lines = [`clusterset-dns is answering for cluster ${snapshot.localCluster}. Try:`];
  for (const [cmd, note] of rows) lines.push(`  ${cmd.padEnd(width)}# ${note}`);
  const first = clusterSetIP ?? services[0];
  if (first) {
    lines.push(`Why an answer is what it is:`);
    lines.push(`  npx clusterset-dns explain ${fqdn(first)} --server ${http}`);
  }
  const listed = services.slice(0, LISTED_SERVICES).map((s) => `${s.namespace}/${s.name}`);
  if (services.length > LISTED_SERVICES) listed.push(`(+${services.length - LISTED_SERVICES} more)`);
  lines.push(`The whole clusterset: npx clusterset-dns status --url ${http}   (or open ${http}/ in a browser)`);
  lines.push(`Metrics: ${http}/metrics   Services: ${listed.join(', ') || 'none yet'}`);
  return lines.join('\n');
}
