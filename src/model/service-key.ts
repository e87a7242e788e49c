/**
 * The one key of a service everywhere in the code (reconciler queues, store indexes, snapshots):
 * `<namespace>/<name>`. Both parts are DNS labels, so `/` cannot occur inside them and the key
 * maps back to exactly one service.
 */
import type { ClusterId, ServiceRef } from './types.ts';

export function serviceKey(ref: ServiceRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** The inverse of serviceKey. */
export function parseServiceKey(key: string): ServiceRef {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** One cluster's export of one service: `<cluster>|<namespace>/<name>` (cluster IDs hold no `|`). */
export function clusterServiceKey(cluster: ClusterId, ref: ServiceRef): string {
  return `${cluster}|${serviceKey(ref)}`;
}
