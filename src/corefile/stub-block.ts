/**
 * The server block that sends one zone to our DNS server: `ZONE:PORT { errors; forward . IP }`.
 *
 * Deliberately without `cache`: our server already caches encoded answers and rotates the order
 * of multi-cluster answers per query; a CoreDNS cache in front would freeze that order and delay
 * health changes for up to a TTL. The NodeLocal DNS flavour adds the `bind` addresses (so the new
 * block listens where NodeLocal's other blocks listen, not on every interface) and `force_tcp`
 * when NodeLocal talks to the cluster DNS that way (it avoids UDP conntrack races on the node).
 */
import { isIP } from 'node:net';
import { beginMarker, endMarker } from './markers.ts';

export interface StubBlockOptions {
  zone: string;
  /** Port the Corefile serves plain DNS on (53 in every cluster we know). */
  port: number;
  /** `forward` targets, e.g. `10.96.0.53`, `127.0.0.1:5353`, `[fd00::53]:53`, `{$CLUSTERSET_DNS_SERVICE_IP}`. */
  upstreams: readonly string[];
  /** NodeLocal DNS: the addresses its server blocks `bind` to. */
  bind?: readonly string[];
  /** NodeLocal DNS: forward over TCP, as its cluster-domain block does. */
  forceTcp?: boolean;
  eol?: '\n' | '\r\n';
  indent?: string;
}

/** A `forward` target for an IP and optional port (IPv6 in brackets when a port follows). */
export function forwardTarget(ip: string, port?: number): string {
  if (port === undefined || port === 53) return ip;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function renderStubBlock(options: StubBlockOptions): string {
  if (options.upstreams.length === 0) throw new Error('renderStubBlock: at least one upstream is needed');
  const eol = options.eol ?? '\n';
  const ind = options.indent ?? '    ';
  const lines = [`${options.zone}:${options.port} {`, `${ind}errors`];
  if (options.bind !== undefined && options.bind.length > 0) lines.push(`${ind}bind ${options.bind.join(' ')}`);
  if (options.forceTcp === true) {
    lines.push(`${ind}forward . ${options.upstreams.join(' ')} {`, `${ind}${ind}force_tcp`, `${ind}}`);
  } else {
    lines.push(`${ind}forward . ${options.upstreams.join(' ')}`);
  }
  lines.push('}');
  return lines.join(eol) + eol;
}

/** The stub block between its BEGIN/END markers, as `coredns install` writes it. */
export function renderManagedRegion(options: StubBlockOptions): string {
  const eol = options.eol ?? '\n';
  return `${beginMarker(options.zone)}${eol}${renderStubBlock(options)}${endMarker(options.zone)}${eol}`;
}
