/**
 * Every label, annotation and well-known value this project reads or writes on Kubernetes objects,
 * in one place (as Lighthouse does), so the export side, the import side and the kube stores of
 * issue 4 agree on spelling.
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

/** Annotation on an imported MCS EndpointSlice: why the importer excluded that cluster. */
export const ANNOTATION_EXCLUDED_REASON = 'clusterset-dns.io/excluded-reason';

/** Annotation on an imported MCS EndpointSlice: addresses of that cluster the importer refused, and why. */
export const ANNOTATION_REJECTED_ADDRESSES = 'clusterset-dns.io/rejected-addresses';

/** Annotation on a broker record: the ServiceExport creationTimestamp (conflict tie-breaker). */
export const ANNOTATION_EXPORT_CREATED_AT = 'clusterset-dns.io/export-created-at';

/**
 * Annotation carrying the full source cluster ID when it does not fit a label value (cluster IDs
 * may be two DNS labels, up to 127 characters; label values stop at 63). The label then holds a
 * truncated, hashed form; readers take the annotation first.
 */
export const ANNOTATION_SOURCE_CLUSTER = 'clusterset-dns.io/source-cluster';

/**
 * Annotation on the per-family EndpointSlices of one dual-stack service-IP endpoint (a ClusterSetIP
 * cluster's single endpoint holds its IPv4 and IPv6 service IPs, but an EndpointSlice holds one
 * family): the endpoint's full address list in order, so readers rebuild the one endpoint exactly.
 */
export const ANNOTATION_SERVICE_IPS = 'clusterset-dns.io/service-ips';

/** Field manager of every server-side apply this project makes. */
export const FIELD_MANAGER = 'clusterset-dns';
