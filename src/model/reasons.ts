/**
 * Human-readable reasons for every inclusion or exclusion decision (principle 5: no silent
 * states). One place for the wording, so `explain`, EDE texts and tests agree.
 */
import type { ClusterId, IPFamily } from './types.ts';

/** At most this many clusters are named in one summary; EDE texts must stay short. */
const SUMMARY_LIMIT = 5;

export const Reasons = {
  excluded: (why: string): string => why,
  noEndpoints: (): string => 'no endpoints imported',
  noReadyEndpoints: (total: number): string => `no ready endpoints (0 of ${total} ready)`,
  readyWithoutAddress: (): string => 'ready endpoints carry no address',
  healthy: (ready: number, total: number): string => `healthy (${ready} of ${total} endpoints ready)`,
  noAddressOfFamily: (family: IPFamily): string => `no ${family} address`,
  localHealthy: (): string => 'local cluster, healthy (local-first)',
  notNeededLocalHealthy: (local: ClusterId): string => `not needed: local cluster ${local} is healthy (local-first)`,
  remoteFailover: (local: ClusterId): string => `healthy remote; local cluster ${local} is unavailable (local-first)`,
  remoteHealthy: (): string => 'healthy remote (local cluster does not export the service)',
  healthyAll: (): string => 'healthy',
  healthyRoundRobin: (): string => 'healthy (one record per answer, round-robin)',
  unhealthy: (why: string): string => `unhealthy: ${why}`,
  drained: (): string => 'drained (weight 0)',
  drainedButNeeded: (reason: string): string => `${reason}; drained (weight 0), answered because every usable cluster is drained`,
  remoteFirst: (): string => 'healthy remote (remote-first)',
  notNeededRemotesHealthy: (): string => 'not needed: healthy remote clusters answer (remote-first)',
  localFallback: (): string => 'local cluster, healthy; no remote cluster is available (remote-first)',
  nearestLocal: (): string => 'local cluster, healthy (nearest)',
  nearestTier: (where: string): string => `healthy, same ${where} as the local cluster (nearest)`,
  nearestAny: (why: string): string => `healthy; ${why} (nearest)`,
  notNeededNearer: (nearer: string): string => `not needed: ${nearer} answer (nearest)`,
  panicIncluded: (why: string): string => `unhealthy but included (panic mode all): ${why}`,
  explicitRequest: (health: string): string => `asked for by name: ${health}`,
  notRequested: (): string => 'not asked for (cluster-specific name)',
  endpointReady: (): string => 'ready',
  endpointDrained: (): string => 'ready; cluster drained (weight 0): only its cluster-specific names answer',
  drainedServiceWide: (): string => 'drained (weight 0): only its cluster-specific names answer',
  endpointNotReady: (): string => 'not ready',
  endpointNoAddress: (): string => 'no address',
  endpointClusterExcluded: (why: string): string => `cluster excluded: ${why}`,
} as const;

/**
 * `west: lease expired ...; east: no ready endpoints`, naming at most SUMMARY_LIMIT clusters so a
 * clusterset of hundreds cannot produce an unbounded text.
 */
export function summarizeClusters(items: ReadonlyArray<{ cluster: ClusterId; reason: string }>): string {
  const shown = items.slice(0, SUMMARY_LIMIT).map((item) => `${item.cluster}: ${item.reason}`);
  const hidden = items.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')}; (+${hidden} more)` : shown.join('; ');
}
