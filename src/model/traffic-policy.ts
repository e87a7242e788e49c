/**
 * Traffic policy per service (issue 14): the policy names, the weight range, and the parsing of
 * the values users write in ServiceExport annotations. Pure; the annotation keys live with the
 * other labels and annotations in src/kube/labels.ts.
 *
 * Values are parsed strictly and never guessed: an unknown policy or a weight outside 0-1000 is
 * an error the exporter turns into `Valid=False` (a silently ignored annotation would be worse
 * than a refused export, because the user believes the traffic follows it).
 */

import { publishedPropertiesFrom } from './cluster-properties.ts';

/** Where a cluster is (its region and zone ClusterProperties); either may be unknown. */
export interface Place {
  region?: string;
  zone?: string;
}

/** On a ServiceExport (the user's choice) and on the imported ServiceImport (the service's). */
export const ANNOTATION_POLICY = 'clusterset-dns.io/policy';
/** On a ServiceExport (the user's choice) and on that cluster's imported MCS EndpointSlices. */
export const ANNOTATION_WEIGHT = 'clusterset-dns.io/weight';

/** Every policy, in the order they are documented. */
export const POLICY_NAMES = ['local-first', 'all', 'round-robin', 'remote-first', 'nearest'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Where a service's effective policy came from (explain, status). */
export type PolicySource = 'global' | 'annotation';

/** A cluster's weight when its ServiceExport does not say. */
export const DEFAULT_WEIGHT = 100;
export const MAX_WEIGHT = 1000;

/** Annotation values longer than this are not echoed whole in messages. */
const SHOWN_VALUE_CHARS = 64;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function shown(text: string): string {
  return JSON.stringify(text.length <= SHOWN_VALUE_CHARS ? text : `${text.slice(0, SHOWN_VALUE_CHARS)}...`);
}

export function isPolicyName(value: unknown): value is PolicyName {
  return typeof value === 'string' && (POLICY_NAMES as readonly string[]).includes(value);
}

/** A policy annotation value: exactly one of POLICY_NAMES (lowercase, no blanks). */
export function parsePolicy(text: string): Parsed<PolicyName> {
  if (isPolicyName(text)) return { ok: true, value: text };
  return { ok: false, message: `policy ${shown(text)} is not one of ${POLICY_NAMES.join(', ')}` };
}

export function isWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_WEIGHT;
}

/** A weight annotation value: a whole number 0-1000 in plain decimal digits. */
export function parseWeight(text: string): Parsed<number> {
  // Digits only: `1e2`, `+5`, ` 7` and `0x10` are all numbers to Number() but not what a user meant.
  if (/^[0-9]{1,4}$/.test(text)) {
    const value = Number(text);
    if (value <= MAX_WEIGHT) return { ok: true, value };
  }
  return { ok: false, message: `weight ${shown(text)} is not a whole number from 0 to ${MAX_WEIGHT}` };
}

/**
 * The policy of a service whose exporting clusters may disagree: the conflict winner's annotation
 * applies (KEP-1645: scalar fields come from the oldest export). A cluster without the annotation
 * defers and never disagrees; a cluster that names another policy than the winner's (including
 * when the winner names none) is told so with a Conflict reason, so its value is never ignored
 * silently.
 */
export function resolveServicePolicy(
  winner: { cluster: string; policy?: PolicyName },
  others: ReadonlyArray<{ cluster: string; policy?: PolicyName }>,
): { policy?: PolicyName; disagreeing: Map<string, string> } {
  const disagreeing = new Map<string, string>();
  for (const o of others) {
    if (o.policy === undefined || o.policy === winner.policy) continue;
    const applied = winner.policy === undefined ? 'the global --policy (the winner sets none)' : winner.policy;
    disagreeing.set(o.cluster, `${o.cluster}: policy ${o.policy}, service uses ${applied} (winner ${winner.cluster}, oldest export)`);
  }
  return winner.policy === undefined ? { disagreeing } : { policy: winner.policy, disagreeing };
}

/**
 * Where this cluster is, from its own ClusterProperties (name → value): the region and zone it
 * publishes to the others, judged by the same rules (an invalid value is left out, unknown).
 */
export function placeFromProperties(properties: ReadonlyMap<string, string>): Place {
  const { value } = publishedPropertiesFrom(properties);
  const place: Place = {};
  if (value.region !== undefined) place.region = value.region;
  if (value.zone !== undefined) place.zone = value.zone;
  return place;
}

export function samePlace(a: Place | undefined, b: Place | undefined): boolean {
  return a?.region === b?.region && a?.zone === b?.zone;
}
