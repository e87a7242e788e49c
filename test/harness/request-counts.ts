/**
 * What each API server was asked to do, from its own `apiserver_request_total`: the ground truth
 * for "this restart wrote nothing" and for writes per export in the benchmarks.
 */
import { httpGet } from './net.ts';

export interface ApiserverEndpoint {
  name: string;
  server: string;
  caPem: string;
  token: string;
}

/** `verb resource[/subresource]` → count, summed over codes and scopes. */
export async function requestCounts(server: string, caPem: string, token: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const res = await httpGet(`${server}/metrics`, { ca: caPem, token, timeoutMs: 10_000 });
  for (const line of res.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (k: string): string => new RegExp(`[{,]${k}="([^"]*)"`).exec(line)?.[1] ?? '';
    const key = `${label('verb')} ${label('resource')}${label('subresource') ? `/${label('subresource')}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** Mutating requests (not GET/LIST/WATCH) per apiserver since the last call, as `verb resource` → count. */
export class WriteMeter {
  private readonly clusters: ApiserverEndpoint[];
  private last = new Map<string, Map<string, number>>();

  constructor(clusters: ApiserverEndpoint[]) {
    this.clusters = clusters;
  }

  /**
   * `strict`: an apiserver whose metrics cannot be read fails the call (a test must not read
   * "no writes" from a server it could not ask); otherwise it is left out of this delta.
   */
  async take(options: { strict?: boolean } = {}): Promise<Map<string, Map<string, number>>> {
    const delta = new Map<string, Map<string, number>>();
    for (const c of this.clusters) {
      let now: Map<string, number>;
      try {
        now = await requestCounts(c.server, c.caPem, c.token);
      } catch (err) {
        if (options.strict) throw new Error(`reading apiserver_request_total of ${c.name}: ${String(err)}`);
        continue;
      }
      const before = this.last.get(c.name) ?? new Map<string, number>();
      const d = new Map<string, number>();
      for (const [k, v] of now) {
        if (/^(GET|LIST|WATCH|CONNECT) /.test(k)) continue;
        // A counter below its last value: the apiserver restarted and counts from zero again.
        const last = before.get(k) ?? 0;
        const n = v >= last ? v - last : v;
        if (n > 0) d.set(k, n);
      }
      delta.set(c.name, d);
      this.last.set(c.name, now);
    }
    return delta;
  }
}

