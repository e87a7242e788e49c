/**
 * The labels and well-known values that several object kinds share (the managed-by mark, the MCS
 * service and source-cluster labels), so every kind spells them alike. Annotations that belong to
 * one kind live with that kind (src/kube/kinds/).
 */

/** Standard EndpointSlice label naming the Service a slice belongs to. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** EndpointSlice label naming the controller that manages it. */
export const LABEL_ENDPOINTSLICE_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';

/** mcs-api well-known label: the multi-cluster service an object belongs to. */
export const LABEL_MCS_SERVICE_NAME = 'multicluster.kubernetes.io/service-name';

/** mcs-api well-known label: the cluster an exported object comes from. */
export const LABEL_MCS_SOURCE_CLUSTER = 'multicluster.kubernetes.io/source-cluster';

/** Our label: the namespace of the exported service (broker objects all live in one namespace). */
export const LABEL_SOURCE_NAMESPACE = 'clusterset-dns.io/source-namespace';

/** Our label on every object we create, so we never touch objects we did not write. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

/** The value of LABEL_MANAGED_BY / LABEL_ENDPOINTSLICE_MANAGED_BY on our objects. */
export const MANAGED_BY_VALUE = 'clusterset-dns';

/** Field manager of every server-side apply this project makes. */
export const FIELD_MANAGER = 'clusterset-dns';

/**
 * The traffic annotations (issue 14): `clusterset-dns.io/policy` and `clusterset-dns.io/weight`, on
 * the ServiceExport (written by the user); the importer carries the effective policy onto the
 * imported ServiceImport and each cluster's weight onto its MCS EndpointSlices for the DNS server.
 * Defined in the model, whose messages name them, and re-exported here with the other keys.
 */
export { ANNOTATION_POLICY, ANNOTATION_WEIGHT } from '../model/traffic-policy.ts';
