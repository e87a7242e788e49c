/**
 * The DNS label that names one endpoint under `<host>.<cluster>.<svc>...`: its hostname, or for
 * hostname-less endpoints its first address with `.` and `:` replaced by `-` (as Kubernetes DNS
 * does for pods), so every ready endpoint has a name.
 */
import type { Endpoint, IPFamily } from './types.ts';

export function endpointLabel(endpoint: Endpoint): string {
  if (endpoint.hostname !== undefined && endpoint.hostname !== '') return endpoint.hostname.toLowerCase();
  const first = endpoint.addresses[0] ?? '';
  return first.toLowerCase().replace(/[.:]/g, '-');
}

/** IPv6 literals are the only addresses containing ':'; callers validated addresses upstream. */
export function addressFamily(address: string): IPFamily {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}
