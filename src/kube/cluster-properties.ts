/**
 * This cluster's KEP-2149 ClusterProperties (`about.k8s.io`, cluster-scoped), read two ways:
 * - readClusterProperties(): once, at start, to resolve the cluster ID before anything runs;
 * - KubeClusterProperties: a projected informer (restarts with backoff like every other) that keeps
 *   name → value up to date, for what the agent publishes on its lease.
 * v1 is read where the API serves it, v1alpha1 otherwise (discoverAboutVersion). An API server
 * without the CRD has no properties: that is not an error.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfig } from './kubeconfig.ts';
import { describeApiError, discoverAboutVersion, makeRawGet } from './client.ts';
import { objectKey, type InformerEventType } from './informer.ts';
import { parseClusterProperty } from './kinds/cluster-property.ts';
import { ABOUT_GROUP, KIND_CLUSTER_PROPERTY, type AboutVersion } from './objects.ts';
import { clusterPropertyOnly } from './projections.ts';
import { WatchedObjects, type WatchedObjectsOptions } from './watched-objects.ts';

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

export interface KubeClusterPropertiesOptions extends WatchedObjectsOptions {
  version: AboutVersion;
}

/** The local ClusterProperties as a live map; listeners hear about every change (and must not throw). */
export class KubeClusterProperties extends WatchedObjects {
  private readonly values = new Map<string, string>();
  /** Object key → property name, for deletes. */
  private readonly names = new Map<string, string>();

  constructor(options: KubeClusterPropertiesOptions) {
    super(options, {
      component: 'cluster-properties',
      resource: { apiVersion: `${ABOUT_GROUP}/${options.version}`, kind: KIND_CLUSTER_PROPERTY, plural: PLURAL },
      project: clusterPropertyOnly,
    });
  }

  /** name → spec.value of every valid ClusterProperty. */
  current(): ReadonlyMap<string, string> {
    return this.values;
  }

  protected onEvent(type: InformerEventType, obj: KubernetesObject): void {
    const key = objectKey(obj);
    const before = this.names.get(key);
    if (before !== undefined) this.values.delete(before);
    this.names.delete(key);
    if (type !== 'DELETED') {
      const parsed = parseClusterProperty(obj);
      if (parsed.ok) {
        this.values.set(parsed.value.name, parsed.value.value);
        this.names.set(key, parsed.value.name);
        this.forgetRejection(key);
      } else if (this.firstRejection(key, obj)) {
        this.logger.error({ object: key, problems: parsed.problems }, 'ignoring an invalid ClusterProperty');
      }
    } else this.forgetRejection(key);
    this.notify((err) => this.logger.error({ err: describeApiError(err) }, 'cluster property listener threw'));
  }
}
