/**
 * What this cluster publishes about itself on its lease, from its ClusterProperties: recomputed
 * only when the properties change (the lease renewer asks on every renewal), with every bad value
 * logged once per change instead of on every renewal. Bad values are left out; the rest is
 * published (model/cluster-properties.ts publishedPropertiesFrom).
 */
import type { Logger } from 'pino';
import { deepEqual } from '../model/equal.ts';
import { NO_PUBLISHED_PROPERTIES, publishedPropertiesFrom, type PublishedProperties } from '../model/cluster-properties.ts';

export class PublishedPropertiesSource {
  private readonly logger: Logger;
  private readonly read: () => ReadonlyMap<string, string>;
  private lastInput: Map<string, string> | undefined;
  private value: PublishedProperties = NO_PUBLISHED_PROPERTIES;

  /** `read`: the cluster's ClusterProperties now (name → value). */
  constructor(read: () => ReadonlyMap<string, string>, logger: Logger) {
    this.read = read;
    this.logger = logger.child({ component: 'published-properties' });
  }

  current(): PublishedProperties {
    const input = new Map(this.read());
    if (this.lastInput !== undefined && deepEqual(Object.fromEntries(input), Object.fromEntries(this.lastInput))) return this.value;
    this.lastInput = input;
    const { value, problems } = publishedPropertiesFrom(input);
    for (const problem of problems) this.logger.error({ problem }, 'ClusterProperty value not published');
    if (!deepEqual(value, this.value)) {
      this.logger.info({ probeTargets: value.probeTargets.map((t) => t.text), region: value.region, zone: value.zone }, 'published properties changed: the next lease renewal carries them');
    }
    this.value = value;
    return value;
  }
}
