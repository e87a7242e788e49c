/** Pure validators for the names that flow through the model (RFC 1123 labels, cluster IDs). */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label: lowercase alphanumerics and '-', 1-63 characters (namespace names). */
export function isDnsLabel(value: string): boolean {
  return value.length >= 1 && value.length <= 63 && DNS_LABEL.test(value);
}

/** RFC 1035 label: like a 1123 label but starting with a letter (Service names). */
export function isDns1035Label(value: string): boolean {
  return value.length >= 1 && value.length <= 63 && DNS_1035_LABEL.test(value);
}

/** RFC 1123 subdomain: dot-separated labels, at most 253 characters (object names in general). */
export function isDnsSubdomain(value: string): boolean {
  return value.length >= 1 && value.length <= 253 && value.split('.').every(isDnsLabel);
}

/**
 * A cluster ID is one or two DNS labels joined by '.' (KEP-2149 allows dotted IDs; the DNS names
 * `<cluster>.<svc>.<ns>.svc.Z` can only be parsed unambiguously with at most two labels).
 */
export function isValidClusterId(value: string): boolean {
  const labels = value.split('.');
  return labels.length >= 1 && labels.length <= 2 && labels.every(isDnsLabel);
}
