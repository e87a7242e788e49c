/**
 * Pure: does an object from the watch cache already hold what we would apply? Compared on the
 * fields we write only (our labels and annotations, the body fields we set), normalized for the
 * API server's defaults, so that an unchanged object is never rewritten (no flapping, no write
 * storm) while a field someone else changed, or one we stopped setting, is repaired.
 */
import { deepEqual } from '../model/equal.ts';
import { OWN_ANNOTATION_PREFIX, asObj, type KubeObject, type Obj } from './kinds/object-meta.ts';

function normalize(value: unknown, key: string): unknown {
  if (Array.isArray(value)) {
    if (key === 'endpoints') {
      return value.map((e) => {
        const o = asObj(e) ?? {};
        const ready = asObj(o['conditions'])?.['ready'];
        return { addresses: o['addresses'], hostname: o['hostname'], ready: typeof ready === 'boolean' ? ready : true };
      });
    }
    if (key === 'ports') {
      return value.map((p) => {
        const o = asObj(p) ?? {};
        return { name: o['name'] ?? '', protocol: o['protocol'] ?? 'TCP', port: o['port'], appProtocol: o['appProtocol'] };
      });
    }
    if (key === 'clusters') return value.map((c) => asObj(c)?.['cluster']);
    return value.map((v) => normalize(v, ''));
  }
  const o = asObj(value);
  if (o === undefined) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[k] = normalize(v, k);
  return out;
}

/**
 * `ownsMetadata` false: the desired object is a status-subresource apply, which writes no labels
 * or annotations, so the ones the main apply wrote are not compared.
 */
export function sameContent(desired: KubeObject, current: unknown, ownsMetadata = true): boolean {
  const cur = asObj(current);
  if (cur === undefined) return false;
  if (ownsMetadata && !sameMetadata(desired, cur)) return false;
  for (const [key, want] of Object.entries(desired)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
    const have = cur[key];
    const wantObj = asObj(want);
    if (wantObj !== undefined) {
      // spec / status: only the fields we set; others (e.g. spec.ips set by a VIP allocator) are not ours.
      const haveObj = asObj(have) ?? {};
      for (const [k, v] of Object.entries(wantObj)) if (!deepEqual(normalize(v, k), normalize(haveObj[k], k))) return false;
    } else if (!deepEqual(normalize(want, key), normalize(have, key))) {
      return false;
    }
  }
  return true;
}

function sameMetadata(desired: KubeObject, cur: Obj): boolean {
  const curMeta = asObj(cur['metadata']) ?? {};
  const curLabels = asObj(curMeta['labels']) ?? {};
  for (const [k, v] of Object.entries(desired.metadata.labels ?? {})) if (curLabels[k] !== v) return false;
  const curAnnotations = asObj(curMeta['annotations']) ?? {};
  // Annotations under our prefix are all ours: one we no longer set must go, so its presence differs.
  const wantAnnotations = desired.metadata.annotations ?? {};
  for (const [k, v] of Object.entries(wantAnnotations)) if (curAnnotations[k] !== v) return false;
  for (const k of Object.keys(curAnnotations)) if (k.startsWith(OWN_ANNOTATION_PREFIX) && !(k in wantAnnotations)) return false;
  return true;
}
