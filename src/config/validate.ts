/** Validation of individual config values; each failure is an exact, user-facing message. */
import { isIP } from 'node:net';
import { type AddressPolicy, addressPolicyFrom } from '../model/address-policy.ts';
import type { ListenAddress } from './options.ts';
import { type FlagSpec, UsageError } from './flags.ts';

/** `--allowed-cidrs`: shared by every command that exports, imports or answers addresses. */
export const ALLOWED_CIDRS_FLAG: FlagSpec = {
  name: 'allowed-cidrs',
  kind: 'list',
  env: 'CLUSTERSET_DNS_ALLOWED_CIDRS',
  metavar: 'CIDR',
  default: [],
  help: 'serve only addresses inside these CIDRs; repeatable or comma-separated (default: any address except loopback, link-local, multicast, broadcast, unspecified, IPv4-mapped)',
};

/** The address policy from `--allowed-cidrs` values; a bad CIDR is a usage error naming it. */
export function parseAllowedCidrs(values: readonly string[], what = '--allowed-cidrs'): AddressPolicy {
  try {
    return addressPolicyFrom(values);
  } catch (err) {
    throw new UsageError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `HOST:PORT` or `[IPv6]:PORT`; host must be an IP address or `localhost`. */
export function parseListen(raw: string, what: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:]+):(\d+)$/.exec(raw);
  if (!m) throw new UsageError(`${what} must be HOST:PORT (IPv6 as [::1]:PORT), got ${JSON.stringify(raw)}`);
  const host = m[1]!;
  const port = Number(m[2]);
  if (host !== 'localhost' && isIP(host) === 0) {
    throw new UsageError(`${what}: host must be an IP address or localhost, got ${JSON.stringify(host)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${what}: port must be from 0 to 65535, got ${m[2]}`);
  }
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

/** A zone name: lowercase, no trailing dot, valid DNS labels. */
export function parseZone(raw: string, what: string): string {
  const zone = raw.trim().toLowerCase().replace(/\.$/, '');
  if (zone === '') throw new UsageError(`${what}: zone must not be empty (the root zone cannot be served)`);
  if (zone.length > 253) throw new UsageError(`${what}: zone ${JSON.stringify(raw)} is longer than 253 characters`);
  for (const label of zone.split('.')) {
    if (!LABEL.test(label)) {
      throw new UsageError(`${what}: zone ${JSON.stringify(raw)} has an invalid label ${JSON.stringify(label)}`);
    }
  }
  return zone;
}

/** Cluster IDs are one or two DNS labels (KEP-2149 allows a dotted ID such as `east.prod`). */
export function parseClusterId(raw: string, what: string): string {
  const labels = raw.split('.');
  if (raw === '' || labels.length > 2 || !labels.every((l) => LABEL.test(l))) {
    throw new UsageError(
      `${what} must be one or two lowercase DNS labels (a-z, 0-9, '-', at most 63 each), got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

/** Zones must not nest: a name would otherwise belong to two zones with different data. */
export function checkZonesDisjoint(zones: readonly string[]): void {
  for (const a of zones) {
    for (const b of zones) {
      if (a !== b && (a.endsWith(`.${b}`) || a === b)) {
        throw new UsageError(`--zone ${a} is inside --zone ${b}; served zones must not nest`);
      }
    }
  }
  if (new Set(zones).size !== zones.length) throw new UsageError('--zone lists the same zone twice');
}
