/**
 * Direct access to the harness's etcd (plain HTTP on loopback, through etcd's JSON gateway), for
 * tests that need what only etcd can do: compaction, which expires every older resourceVersion and
 * continue token the apiservers handed out, as happens every few minutes in a real cluster.
 */

async function post(endpoint: string, path: string, body: object): Promise<Record<string, any>> {
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, any>;
}

/** etcd's current revision. */
export async function etcdRevision(endpoint: string): Promise<number> {
  const reply = await post(endpoint, '/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 });
  return Number(reply['header']?.['revision']);
}

/** Compacts etcd at its current revision; returns that revision. */
export async function compactEtcd(endpoint: string): Promise<number> {
  const revision = await etcdRevision(endpoint);
  await post(endpoint, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}
