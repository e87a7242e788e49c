/**
 * Equality of two snapshot entries, so a rebuild can keep the previous snapshot's object for a
 * service whose content did not change. Keeping it matters downstream: the DNS workers receive
 * only the entries that changed (the rest keep their identity there too), and everything memoised
 * per entry (headless selections, served address lists, large cached answers) survives an update
 * of some other service instead of being recomputed for 100,000 addresses.
 *
 * Written for the entry's shape rather than with a generic deep compare: a rebuild compares every
 * entry, and endpoint objects are usually shared between rebuilds, so the identity check first
 * makes the common case one pointer comparison per endpoint.
 */
import type { ClusterBackend, ServiceEntry } from './snapshot.ts';
import { deepEqual } from './equal.ts';
import type { Endpoint, ServicePort } from './types.ts';

const ENTRY_FIELDS = new Set(['namespace', 'name', 'type', 'vips', 'ports', 'backends']);
const BACKEND_FIELDS = new Set(['cluster', 'excludedReason', 'rejectedAddresses', 'ports', 'endpoints']);

/**
 * Fields this module does not know by name (added to the model later) are compared generically,
 * so a new field can never make two different entries look the same.
 */
function sameOtherFields(a: object, b: object, known: ReadonlySet<string>): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k in ra) if (!known.has(k) && !deepEqual(ra[k], rb[k])) return false;
  for (const k in rb) if (!known.has(k) && !(k in ra) && rb[k] !== undefined) return false;
  return true;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePorts(a: readonly ServicePort[], b: readonly ServicePort[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    const q = b[i]!;
    if (p.name !== q.name || p.protocol !== q.protocol || p.port !== q.port || p.appProtocol !== q.appProtocol) return false;
  }
  return true;
}

const ENDPOINT_FIELDS = new Set(['addresses', 'hostname', 'ready']);

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (a === b) return true;
  return a.ready === b.ready && a.hostname === b.hostname && sameStrings(a.addresses, b.addresses) && sameOtherFields(a, b, ENDPOINT_FIELDS);
}

function sameBackend(a: ClusterBackend, b: ClusterBackend): boolean {
  if (a.cluster !== b.cluster || a.excludedReason !== b.excludedReason || a.rejectedAddresses !== b.rejectedAddresses) return false;
  if (!samePorts(a.ports, b.ports) || a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < a.endpoints.length; i++) if (!sameEndpoint(a.endpoints[i]!, b.endpoints[i]!)) return false;
  return sameOtherFields(a, b, BACKEND_FIELDS);
}

/** True when both entries answer every question alike (same fields, same order). */
export function sameServiceEntry(a: ServiceEntry, b: ServiceEntry): boolean {
  if (a === b) return true;
  if (a.namespace !== b.namespace || a.name !== b.name || a.type !== b.type) return false;
  if (!sameStrings(a.vips, b.vips) || !samePorts(a.ports, b.ports) || a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.backends.length; i++) if (!sameBackend(a.backends[i]!, b.backends[i]!)) return false;
  return sameOtherFields(a, b, ENTRY_FIELDS);
}
