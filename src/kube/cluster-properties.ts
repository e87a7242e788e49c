/**
 * This cluster's KEP-2149 ClusterProperties (`about.k8s.io`, cluster-scoped), read two ways:
 * - readClusterProperties(): once, at start, to resolve the cluster ID before anything runs;
 * - KubeClusterProperties: a projected informer (restarts with backoff like every other) that keeps
 *   name → value up to date, for what the agent publishes on its lease.
 * v1 is read where the API serves it, v1alpha1 otherwise (discoverAboutVersion). An API server
 * without the CRD has no properties: that is not an error.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError, discoverAboutVersion, makeRawGet } from './client.ts';
import { Informer, objectKey, type InformerEventType, type InformerRestartReason } from './informer.ts';
import { parseClusterProperty } from './kinds/cluster-property.ts';
import { ABOUT_GROUP, KIND_CLUSTER_PROPERTY, type AboutVersion } from './objects.ts';
import { clusterPropertyOnly } from './projections.ts';

const PLURAL = 'clusterproperties';
/** Bound of the one-shot read: a cluster has a handful of properties. */
const READ_LIMIT = 500;

/**
 * Every ClusterProperty of the cluster (name → value), or undefined when the API does not serve
 * `about.k8s.io`. Invalid objects are left out (and named in `problems`). Throws when the API
 * cannot be read.
 */
export async function readClusterProperties(kc: KubeConfig, timeoutMs: number): Promise<{ properties: Map<string, string>; version: AboutVersion; problems: string[] } | undefined> {
  const version = await discoverAboutVersion(kc, timeoutMs);
  if (version === undefined) return undefined;
  const list = (await makeRawGet(kc)(`/apis/${ABOUT_GROUP}/${version}/${PLURAL}`, { limit: READ_LIMIT }, timeoutMs)) as { items?: unknown[] };
  const properties = new Map<string, string>();
  const problems: string[] = [];
  for (const item of list.items ?? []) {
    const parsed = parseClusterProperty(item);
    if (parsed.ok) properties.set(parsed.value.name, parsed.value.value);
    else problems.push(`ClusterProperty ${String((item as KubernetesObject).metadata?.name)}: ${parsed.problems.join('; ')}`);
  }
  return { properties, version, problems };
}

export interface KubeClusterPropertiesOptions {
  kubeConfig: KubeConfig;
  version: AboutVersion;
  logger: Logger;
  onRestart?: (reason: InformerRestartReason) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** The local ClusterProperties as a live map; listeners hear about every change (and must not throw). */
export class KubeClusterProperties {
  private readonly informer: Informer;
  private readonly values = new Map<string, string>();
  /** Object key → property name, for deletes. */
  private readonly names = new Map<string, string>();
  private readonly rejected = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private readonly logger: Logger;

  constructor(options: KubeClusterPropertiesOptions) {
    this.logger = options.logger.child({ component: 'cluster-properties' });
    this.informer = new Informer({
      kubeConfig: options.kubeConfig,
      resource: { apiVersion: `${ABOUT_GROUP}/${options.version}`, kind: KIND_CLUSTER_PROPERTY, plural: PLURAL },
      project: clusterPropertyOnly,
      onEvent: (t, o) => this.onEvent(t, o),
      logger: this.logger,
      ...(options.onRestart === undefined ? {} : { onRestart: options.onRestart }),
      ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    });
  }

  start(): void {
    this.informer.start();
  }

  stop(): void {
    this.informer.stop();
    this.listeners.clear();
  }

  async waitForSync(timeoutMs: number): Promise<void> {
    await this.informer.waitForSync(timeoutMs);
  }

  /** name → spec.value of every valid ClusterProperty. */
  current(): ReadonlyMap<string, string> {
    return this.values;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onEvent(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const before = this.names.get(key);
    if (before !== undefined) this.values.delete(before);
    this.names.delete(key);
    if (type !== 'DELETED') {
      const parsed = parseClusterProperty(obj);
      if (parsed.ok) {
        this.values.set(parsed.value.name, parsed.value.value);
        this.names.set(key, parsed.value.name);
        this.rejected.delete(key);
      } else if (this.rejected.get(key) !== obj.metadata?.resourceVersion) {
        this.rejected.set(key, obj.metadata?.resourceVersion ?? '');
        this.logger.error({ object: key, problems: parsed.problems }, 'ignoring an invalid ClusterProperty');
      }
    } else this.rejected.delete(key);
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger.error({ err: describeApiError(err) }, 'cluster property listener threw');
      }
    }
  }
}
