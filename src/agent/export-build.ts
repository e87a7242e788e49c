/**
 * Pure: what one cluster publishes for one ServiceExport, given the local Service and its
 * EndpointSlices — or why it cannot publish.
 */
import { type AddressPolicy, DEFAULT_ADDRESS_POLICY, type RejectedAddress, filterAddresses, screenEndpoints } from '../model/address-policy.ts';
import { ANNOTATION_POLICY, ANNOTATION_WEIGHT, parsePolicy, parseWeight } from '../model/traffic-policy.ts';
import type {
  ClusterId,
  Endpoint,
  ExportEndpoints,
  ExportRecord,
  LocalEndpointSlice,
  LocalService,
  LocalServiceExport,
  ServicePort,
} from '../model/types.ts';

export type ExportBuild =
  | { status: 'invalid'; reason: 'NoService' | 'InvalidServiceType' | 'NamespaceNotGranted' | 'InvalidPolicy' | 'InvalidWeight'; message: string }
  /** Valid, but nothing can be published yet (e.g. a ClusterIP service without an IP). */
  | { status: 'pending'; message: string }
  | {
      status: 'ready';
      record: ExportRecord;
      endpoints: ExportEndpoints;
      readyBackends: number;
      /** Addresses the address policy refused: not published (logged and counted by the exporter). */
      rejected: RejectedAddress[];
    };

export function buildExport(
  cluster: ClusterId,
  serviceExport: LocalServiceExport,
  service: LocalService | undefined,
  slices: readonly LocalEndpointSlice[],
  policy: AddressPolicy = DEFAULT_ADDRESS_POLICY,
): ExportBuild {
  const ref = { namespace: serviceExport.namespace, name: serviceExport.name };
  if (service === undefined) {
    return { status: 'invalid', reason: 'NoService', message: `Service ${ref.namespace}/${ref.name} does not exist` };
  }
  if (service.type === 'ExternalName') {
    return { status: 'invalid', reason: 'InvalidServiceType', message: 'ExternalName services cannot be exported' };
  }
  // A traffic annotation the user got wrong refuses the export: serving it under another policy
  // or weight than the one written would be a silent state.
  const traffic = serviceExport.policyText === undefined ? undefined : parsePolicy(serviceExport.policyText);
  if (traffic !== undefined && !traffic.ok) {
    return { status: 'invalid', reason: 'InvalidPolicy', message: `annotation ${ANNOTATION_POLICY}: ${traffic.message}` };
  }
  const weight = serviceExport.weightText === undefined ? undefined : parseWeight(serviceExport.weightText);
  if (weight !== undefined && !weight.ok) {
    return { status: 'invalid', reason: 'InvalidWeight', message: `annotation ${ANNOTATION_WEIGHT}: ${weight.message}` };
  }
  if (!service.headless && service.clusterIPs.length === 0) {
    return { status: 'pending', message: 'the Service has no cluster IP yet' };
  }

  const ipSlices = slices.filter((s) => s.addressType !== 'FQDN');
  // The same address policy the importers apply: what they would refuse is not even published.
  const serviceIPs = service.headless ? { accepted: [], rejected: [] } : filterAddresses(service.clusterIPs, policy);
  const record: ExportRecord = {
    ...ref,
    cluster,
    type: service.headless ? 'Headless' : 'ClusterSetIP',
    ports: service.ports.map((p) => ({ ...p })),
    serviceIPs: serviceIPs.accepted,
    ipFamilies: [...service.ipFamilies],
    sessionAffinity: service.sessionAffinity,
    exportCreatedAt: serviceExport.createdAt,
  };
  if (traffic !== undefined) record.policy = traffic.value;
  if (weight !== undefined) record.weight = weight.value;

  let readyBackends = 0;
  for (const s of ipSlices) for (const e of s.endpoints) if (e.ready) readyBackends++;

  let endpoints: Endpoint[];
  let ports: ServicePort[];
  const rejected: RejectedAddress[] = [...serviceIPs.rejected];
  if (service.headless) {
    const screened = screenEndpoints(headlessEndpoints(ipSlices, service.publishNotReadyAddresses), policy);
    endpoints = screened.endpoints;
    rejected.push(...screened.rejected);
    ports = headlessPorts(ipSlices, service.ports);
  } else {
    // One endpoint carrying the service IPs (both families when dual-stack): importers answer with
    // the cluster's service IP, healthy while at least one backend pod is ready.
    endpoints = serviceIPs.accepted.length === 0 ? [] : [{ addresses: serviceIPs.accepted, ready: readyBackends > 0 }];
    ports = service.ports.map((p) => ({ ...p }));
  }
  return { status: 'ready', record, endpoints: { ...ref, cluster, endpoints, ports }, readyBackends, rejected };
}

/** Pod endpoints of every slice, de-duplicated by address, in a stable order. */
function headlessEndpoints(slices: readonly LocalEndpointSlice[], publishNotReady: boolean): Endpoint[] {
  const byAddress = new Map<string, Endpoint>();
  for (const s of slices) {
    for (const e of s.endpoints) {
      const key = `${e.hostname ?? ''}|${e.addresses.join(',')}`;
      if (byAddress.has(key)) continue;
      const ready = e.ready || publishNotReady;
      byAddress.set(key, e.hostname === undefined ? { addresses: [...e.addresses], ready } : { addresses: [...e.addresses], hostname: e.hostname, ready });
    }
  }
  return [...byAddress.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/**
 * Headless SRV records point at pods, so the slice ports (the pods' ports) are the truth; fall
 * back to the Service's ports when slices declare none.
 */
function headlessPorts(slices: readonly LocalEndpointSlice[], servicePorts: readonly ServicePort[]): ServicePort[] {
  const seen = new Map<string, ServicePort>();
  for (const s of slices) for (const p of s.ports) if (!seen.has(`${p.name}|${p.protocol}|${p.port}`)) seen.set(`${p.name}|${p.protocol}|${p.port}`, { ...p });
  if (seen.size === 0) return servicePorts.map((p) => ({ ...p }));
  // Keep the service's appProtocol, which slices in files rarely repeat.
  return [...seen.values()].map((p) => {
    const sp = servicePorts.find((s) => s.name === p.name && s.protocol === p.protocol);
    return sp?.appProtocol !== undefined && p.appProtocol === undefined ? { ...p, appProtocol: sp.appProtocol } : p;
  });
}
