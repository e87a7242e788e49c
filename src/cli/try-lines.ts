/** The "try these" banner printed once the embedded default has synced: real names from the state. */
import type { DnsServerConfig } from '../config/serve-config.ts';
import type { Snapshot } from '../model/snapshot.ts';

const MAX_SERVICES = 4;

/** IPv6 hosts need brackets inside a URL. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function tryLines(snapshot: Snapshot, config: DnsServerConfig, port: number, httpPort: number): string {
  const zone = config.dns.zones[0]!;
  const dig = `dig @${config.listen.host} -p ${port}`;
  const http = `http://${urlHost(config.httpListen.host)}:${httpPort}`;
  const lines: string[] = [`clusterset-dns is answering for cluster ${snapshot.localCluster}. Try:`];
  const services = [...snapshot.services.values()].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  for (const svc of services.slice(0, MAX_SERVICES)) {
    const fqdn = `${svc.name}.${svc.namespace}.svc.${zone}`;
    lines.push(`  ${dig} ${fqdn}            # ${svc.type}`);
    const named = svc.ports.find((p) => p.name !== '');
    if (named) lines.push(`  ${dig} _${named.name}._${named.protocol.toLowerCase()}.${fqdn} SRV`);
    const cluster = svc.backends[0]?.cluster;
    if (config.dns.clusterNames && cluster) lines.push(`  ${dig} ${cluster}.${fqdn}`);
  }
  lines.push(`  ${dig} dns-version.${zone} TXT`);
  if (services[0]) {
    const name = `${services[0].name}.${services[0].namespace}.svc.${zone}`;
    lines.push(`  npx clusterset-dns explain ${name} --server ${http}`);
    lines.push(`  curl -s '${http}/debug/explain?name=${name}'`);
  }
  if (services.length > MAX_SERVICES) lines.push(`  (${services.length - MAX_SERVICES} more services)`);
  return lines.join('\n');
}
