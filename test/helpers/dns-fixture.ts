/**
 * One imported state that exercises every row of DESIGN.md's DNS table, shared by the pure unit
 * tables and the `dig` table through real sockets. Local cluster: `east`.
 */
import type { DnsOptions } from '../../src/config/options.ts';
import type { ImportedState } from '../../src/model/imported-state.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import type { PolicyName } from '../../src/model/traffic-policy.ts';
import type { Endpoint, ImportedService, ImportedSlice, ImportType, ServicePort } from '../../src/model/types.ts';

export const LOCAL = 'east';
export const ZONE = 'clusterset.local';
export const STALE_WEST = 'lease expired at 2026-01-01T00:00:00.000Z';
export const BIG_HEADLESS_SIZE = 120;
/** Where the local cluster is (its region and zone ClusterProperties). */
export const LOCAL_PLACE = { region: 'eu-west', zone: 'eu-west-1a' } as const;

export const OPTIONS: DnsOptions = {
  zones: [ZONE, 'mcs.example'],
  ttl: 5,
  negativeTtl: 7,
  policy: 'local-first',
  clusterNames: true,
  ede: true,
  panicMode: 'nodata',
};

export function port(name: string, num: number, protocol: ServicePort['protocol'] = 'TCP'): ServicePort {
  return { name, protocol, port: num };
}

export function ep(addresses: string[], ready = true, hostname?: string): Endpoint {
  return hostname === undefined ? { addresses, ready } : { addresses, ready, hostname };
}

interface ClusterSpec {
  endpoints: Endpoint[];
  ports?: ServicePort[];
  excludedReason?: string;
  /** What the importer writes from the cluster's ServiceExport annotation and its lease. */
  weight?: number;
  region?: string;
  zone?: string;
}

/** A ServiceImport plus one slice per cluster (ports default to the service's). */
export function imported(
  namespace: string,
  name: string,
  type: ImportType,
  ports: ServicePort[],
  clusters: Record<string, ClusterSpec>,
  ips: string[] = [],
  policy?: PolicyName,
): { service: ImportedService; slices: ImportedSlice[] } {
  const ids = Object.keys(clusters);
  const service: ImportedService = {
    namespace,
    name,
    type,
    ips,
    ports,
    sessionAffinity: 'None',
    ipFamilies: ['IPv4'],
    clusters: ids,
  };
  if (policy !== undefined) service.policy = policy;
  const slices = ids.map((cluster): ImportedSlice => {
    const spec = clusters[cluster] as ClusterSpec;
    const slice: ImportedSlice = {
      namespace,
      name,
      sourceCluster: cluster,
      sliceName: `${name}-${cluster}`,
      endpoints: spec.endpoints,
      ports: spec.ports ?? ports,
    };
    if (spec.excludedReason !== undefined) slice.excludedReason = spec.excludedReason;
    if (spec.weight !== undefined) slice.weight = spec.weight;
    if (spec.region !== undefined) slice.region = spec.region;
    if (spec.zone !== undefined) slice.zone = spec.zone;
    return slice;
  });
  return { service, slices };
}

const webPorts = [port('http', 80), port('metrics', 9090)];

export function fixtureState(): ImportedState {
  const parts = [
    // ClusterSetIP without VIP: local healthy, west stale, a two-label cluster ID.
    imported('shop', 'web', 'ClusterSetIP', webPorts, {
      east: { endpoints: [ep(['10.1.0.10'])] },
      west: { endpoints: [ep(['10.2.0.10'], false)], excludedReason: STALE_WEST },
      'eu.prod': { endpoints: [ep(['10.3.0.10'])] },
    }),
    // ClusterSetIP with dual-stack clusterset VIPs.
    imported('shop', 'api', 'ClusterSetIP', [port('grpc', 8080)], {
      east: { endpoints: [ep(['10.1.0.20'])] },
      west: { endpoints: [ep(['10.2.0.20'])] },
    }, ['242.0.0.1', 'fd00:242::1']),
    // A VIP is answered even when no cluster behind it is healthy (with an EDE).
    imported('shop', 'vipdown', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.0.25'], false)] },
    }, ['242.0.0.2']),
    // The local cluster does not export: every healthy remote answers.
    imported('shop', 'remote', 'ClusterSetIP', [port('http', 80)], {
      north: { endpoints: [ep(['10.4.0.30'])] },
      west: { endpoints: [ep(['10.2.0.30'])] },
    }),
    // The local cluster exports but has no ready backend: fail over to remotes, say so.
    imported('shop', 'failover', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.0.40'], false)] },
      north: { endpoints: [ep(['10.4.0.40'])] },
    }),
    // Every candidate unhealthy: panic.
    imported('shop', 'down', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.0.50'], false)] },
      west: { endpoints: [ep(['10.2.0.50'], false)], excludedReason: STALE_WEST },
    }),
    // Dual-stack service IPs without VIP, and an IPv6-only service.
    imported('shop', 'dual', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.0.60']), ep(['fd00:1::60'])] },
    }),
    imported('shop', 'v6only', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['fd00:1::70'])] },
    }),
    // Two ports sharing one number: bare-name SRV de-duplicates by (target, port).
    imported('shop', 'dns', 'ClusterSetIP', [port('dns', 53, 'UDP'), port('dns-tcp', 53, 'TCP')], {
      east: { endpoints: [ep(['10.1.0.80'])] },
    }),
    // Headless: named and hostname-less pods, a not-ready pod, a stale cluster, a target port.
    imported('shop', 'db', 'Headless', [port('postgres', 5432)], {
      east: {
        endpoints: [ep(['10.1.1.1'], true, 'db-0'), ep(['10.1.1.2']), ep(['10.1.1.3'], false, 'db-2')],
        ports: [port('postgres', 15432)],
      },
      west: { endpoints: [ep(['10.2.1.1'], false, 'db-0')], excludedReason: STALE_WEST },
      'eu.prod': { endpoints: [ep(['fd00:3::1'], true, 'db-5')] },
    }),
    // Headless with nothing ready: NXDOMAIN.
    imported('shop', 'cold', 'Headless', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.2.1'], false, 'cold-0')] },
    }),
    // Headless where `eu.prod` is a cluster and `eu` a host in cluster `prod`.
    imported('shop', 'amb', 'Headless', [port('http', 80)], {
      prod: { endpoints: [ep(['10.5.0.1'], true, 'eu')] },
      'eu.prod': { endpoints: [ep(['10.6.0.1'], true, 'x')] },
    }),
    // A headless answer too big for one UDP message.
    imported('shop', 'big', 'Headless', [port('http', 80)], {
      east: {
        endpoints: Array.from({ length: BIG_HEADLESS_SIZE }, (_, i) => ep([`10.9.${Math.floor(i / 250)}.${(i % 250) + 1}`])),
      },
    }),
    imported('billing', 'pay', 'ClusterSetIP', [port('http', 80)], {
      west: { endpoints: [ep(['10.2.0.90'])] },
    }),
    // Traffic policy (issue 14). Its own `all` policy overrides local-first; weights 300:100 put
    // east first three times as often as north; eu.prod is drained (weight 0).
    imported('traffic', 'split', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.7.1'])], weight: 300 },
      north: { endpoints: [ep(['10.4.7.1'])] },
      'eu.prod': { endpoints: [ep(['10.3.7.1'])], weight: 0 },
    }, [], 'all'),
    // Every usable cluster drained: they answer anyway.
    imported('traffic', 'drained', 'ClusterSetIP', [port('http', 80)], {
      north: { endpoints: [ep(['10.4.7.2'])], weight: 0 },
      south: { endpoints: [ep(['10.5.7.2'])], weight: 0 },
    }),
    // remote-first: the local cluster only when no remote is usable.
    imported('traffic', 'away', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.7.3'])] },
      north: { endpoints: [ep(['10.4.7.3'])] },
      west: { endpoints: [ep(['10.2.7.3'], false)], excludedReason: STALE_WEST },
    }, [], 'remote-first'),
    imported('traffic', 'homebound', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.7.4'])] },
      north: { endpoints: [ep(['10.4.7.4'], false)] },
    }, [], 'remote-first'),
    // nearest, local down: same zone (north), not the same region (south) nor elsewhere (far).
    imported('traffic', 'near', 'ClusterSetIP', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.7.5'], false)], ...LOCAL_PLACE },
      north: { endpoints: [ep(['10.4.7.5'])], region: 'eu-west', zone: 'eu-west-1a' },
      south: { endpoints: [ep(['10.5.7.5'])], region: 'eu-west', zone: 'eu-west-1b' },
      far: { endpoints: [ep(['10.8.7.5'])], region: 'us-east', zone: 'us-east-1a' },
    }, [], 'nearest'),
    // nearest with the same-zone cluster down too: the same region answers.
    imported('traffic', 'region', 'ClusterSetIP', [port('http', 80)], {
      north: { endpoints: [ep(['10.4.7.6'], false)], region: 'eu-west', zone: 'eu-west-1a' },
      south: { endpoints: [ep(['10.5.7.6'])], region: 'eu-west', zone: 'eu-west-1b' },
      far: { endpoints: [ep(['10.8.7.6'])], region: 'us-east', zone: 'us-east-1a' },
    }, [], 'nearest'),
    // Headless, weighted: a cluster's weight is split among its pods (east's one pod 300, north's two 50 each).
    imported('traffic', 'mixed', 'Headless', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.9.1'], true, 'm-0')], weight: 300 },
      north: { endpoints: [ep(['10.4.9.1'], true, 'm-0'), ep(['10.4.9.2'], true, 'm-1')] },
    }),
    // Headless with weights: SRV targets carry their cluster's weight; north is drained.
    imported('traffic', 'pods', 'Headless', [port('http', 80)], {
      east: { endpoints: [ep(['10.1.8.1'], true, 'p-0'), ep(['10.1.8.2'], true, 'p-1')], weight: 200 },
      north: { endpoints: [ep(['10.4.8.1'], true, 'p-0')], weight: 0 },
    }),
  ];
  return {
    synced: true,
    services: parts.map((p) => p.service),
    slices: parts.flatMap((p) => p.slices),
    localPlace: { ...LOCAL_PLACE },
  };
}

export function fixtureSnapshot(overrides: Partial<ImportedState> = {}, version = 42): Snapshot {
  return buildSnapshot({ ...fixtureState(), ...overrides }, LOCAL, version, Date.UTC(2026, 0, 1, 0, 5));
}
