/**
 * Submariner's view of the data path, as a second reachability source (agent/reachability.ts):
 * where the `submariner.io/v1` Gateway CRD exists in the local cluster, the active Gateway's
 * connections say, per remote cluster, whether the tunnel is `connected` (reachable) or
 * `connecting` / `error` (unreachable) — the rule Lighthouse applies. No active gateway: no
 * opinion (every cluster is judged by the probes alone). A projected informer like every other.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import type { ReachabilitySource } from '../agent/reachability.ts';
import type { SourceVerdict } from '../model/reachability.ts';
import { servedVersions } from './client.ts';
import { objectKey, type InformerEventType } from './informer.ts';
import { KIND_SUBMARINER_GATEWAY, SUBMARINER_GATEWAY_API_VERSION, SUBMARINER_GROUP, parseSubmarinerGateway, type SubmarinerGateway } from './kinds/submariner-gateway.ts';
import { identityOf } from './informer-cache.ts';
import { WatchedObjects, type WatchedObjectsOptions } from './watched-objects.ts';

/** Whether the API serves submariner.io/v1 (the Gateway CRD is installed). */
export async function submarinerServed(kc: KubeConfig, timeoutMs = 10_000): Promise<boolean> {
  return (await servedVersions(kc, SUBMARINER_GROUP, timeoutMs))?.includes('v1') ?? false;
}

/** Keeps only what the parse reads: haStatus and each connection's cluster, status and message. */
function gatewayOnly(obj: KubernetesObject): KubernetesObject {
  const status = (obj as { status?: { haStatus?: unknown; connections?: unknown } }).status;
  const connections = Array.isArray(status?.connections)
    ? status.connections.map((c: { endpoint?: { cluster_id?: unknown }; status?: unknown; statusMessage?: unknown }) => ({ endpoint: { cluster_id: c?.endpoint?.cluster_id }, status: c?.status, statusMessage: c?.statusMessage }))
    : status?.connections;
  return { metadata: identityOf(obj), ...(status === undefined ? {} : { status: { haStatus: status.haStatus, connections } }) } as KubernetesObject;
}

export type KubeSubmarinerGatewaysOptions = WatchedObjectsOptions;

export class KubeSubmarinerGateways extends WatchedObjects implements ReachabilitySource {
  private readonly gateways = new Map<string, SubmarinerGateway>();

  constructor(options: KubeSubmarinerGatewaysOptions) {
    super(options, {
      component: 'submariner-gateways',
      resource: { apiVersion: SUBMARINER_GATEWAY_API_VERSION, kind: KIND_SUBMARINER_GATEWAY, plural: 'gateways' },
      project: gatewayOnly,
    });
  }

  /** The active gateway's connections (the first active by name, should there be two). */
  verdicts(): ReadonlyMap<string, SourceVerdict> {
    const active = [...this.gateways.values()].filter((g) => g.active).sort((a, b) => (a.name < b.name ? -1 : 1))[0];
    const out = new Map<string, SourceVerdict>();
    for (const c of active?.connections ?? []) {
      // Stable text (no statusMessage, which changes with every retry): it goes into imported objects.
      out.set(c.cluster, c.status === 'connected' ? { reachable: true } : { reachable: false, reason: `Submariner gateway ${active!.name}: connection to ${c.cluster} is ${c.status}` });
    }
    return out;
  }

  protected onEvent(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    if (type === 'DELETED') {
      this.gateways.delete(key);
      this.forgetRejection(key);
    } else {
      const parsed = parseSubmarinerGateway(obj);
      if (parsed.ok) {
        const before = this.gateways.get(key);
        this.gateways.set(key, parsed.value);
        this.forgetRejection(key);
        for (const c of parsed.value.connections) {
          const was = before?.connections.find((b) => b.cluster === c.cluster);
          if (parsed.value.active && was?.status !== c.status) this.logger.info({ gateway: parsed.value.name, sourceCluster: c.cluster, status: c.status, message: c.message }, 'Submariner connection state');
        }
      } else {
        this.gateways.delete(key);
        if (this.firstRejection(key, obj)) this.logger.warn({ object: key, problems: parsed.problems }, 'ignoring a Submariner Gateway that does not parse');
      }
    }
    this.notify((err) => this.logger.error({ err }, 'submariner listener threw'));
  }
}
