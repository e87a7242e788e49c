/**
 * The small slice of Kubernetes object shapes this project understands: API groups, versions and
 * kinds, plus a loose object type for input that has not been validated yet.
 */

export const CORE_API_VERSION = 'v1';
export const DISCOVERY_API_VERSION = 'discovery.k8s.io/v1';
export const MCS_GROUP = 'multicluster.x-k8s.io';
/** ServiceExport / ServiceImport versions we accept on input (v1alpha1 is what most clusters run). */
export const MCS_API_VERSIONS: readonly string[] = [
  `${MCS_GROUP}/v1alpha1`,
  `${MCS_GROUP}/v1alpha2`,
  `${MCS_GROUP}/v1beta1`,
];
export const COORDINATION_API_VERSION = 'coordination.k8s.io/v1';
/** KEP-2149 ClusterProperty: the versions this project reads, in order of preference (v1 where served). */
export const ABOUT_GROUP = 'about.k8s.io';
export const PREFERRED_ABOUT_VERSIONS = ['v1', 'v1alpha1'] as const;
export type AboutVersion = (typeof PREFERRED_ABOUT_VERSIONS)[number];
export const ABOUT_API_VERSIONS: readonly string[] = PREFERRED_ABOUT_VERSIONS.map((v) => `${ABOUT_GROUP}/${v}`);

export const KIND_NAMESPACE = 'Namespace';
export const KIND_SERVICE = 'Service';
export const KIND_ENDPOINT_SLICE = 'EndpointSlice';
export const KIND_SERVICE_EXPORT = 'ServiceExport';
export const KIND_SERVICE_IMPORT = 'ServiceImport';
export const KIND_LEASE = 'Lease';
export const KIND_CLUSTER_PROPERTY = 'ClusterProperty';

/** Any JSON-like object as loaded from YAML or returned by the API: nothing is trusted yet. */
export type UnknownObject = Record<string, unknown>;

