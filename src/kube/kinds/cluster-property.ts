/**
 * KEP-2149 ClusterProperty (`about.k8s.io`, cluster-scoped): build and parse. A property is a
 * name (metadata.name) and a string (spec.value); what the names mean is the model's
 * (model/cluster-properties.ts).
 */
import type { ClusterPropertyValue } from '../../model/cluster-properties.ts';
import { isDnsSubdomain } from '../../model/names.ts';
import { ABOUT_API_VERSIONS, ABOUT_GROUP, KIND_CLUSTER_PROPERTY, type AboutVersion } from '../objects.ts';
import { asObj, meta, type KubeObject, type Parsed } from './object-meta.ts';

/** The CRD (manifests/crds/clusterproperties.yaml, after sigs.k8s.io/about-api) bounds spec.value at 128,000 characters. */
export const MAX_PROPERTY_VALUE_CHARS = 128_000;

export function buildClusterProperty(property: ClusterPropertyValue, version: AboutVersion = 'v1alpha1'): KubeObject {
  return { apiVersion: `${ABOUT_GROUP}/${version}`, kind: KIND_CLUSTER_PROPERTY, metadata: { name: property.name }, spec: { value: property.value } };
}

export function parseClusterProperty(obj: unknown): Parsed<ClusterPropertyValue> {
  const out: string[] = [];
  const o = asObj(obj);
  const apiVersion = o?.['apiVersion'];
  // Watch events carry apiVersion; list items from some clients do not: only a wrong one is refused.
  if (apiVersion !== undefined && !ABOUT_API_VERSIONS.includes(apiVersion as string)) out.push(`apiVersion ${JSON.stringify(apiVersion)} is not ${ABOUT_API_VERSIONS.join(' or ')}`);
  const kind = o?.['kind'];
  if (kind !== undefined && kind !== KIND_CLUSTER_PROPERTY) out.push(`kind ${JSON.stringify(kind)} is not ${KIND_CLUSTER_PROPERTY}`);
  const name = meta(obj).name;
  if (!isDnsSubdomain(name)) out.push(`metadata.name ${JSON.stringify(name.slice(0, 80))} is not a DNS subdomain`);
  const value = asObj(o?.['spec'])?.['value'];
  if (typeof value !== 'string') out.push('spec.value is not a string');
  else if (value.length > MAX_PROPERTY_VALUE_CHARS) out.push(`spec.value is longer than ${MAX_PROPERTY_VALUE_CHARS} characters`);
  if (out.length > 0) return { ok: false, problems: out };
  return { ok: true, value: { name, value: value as string } };
}
