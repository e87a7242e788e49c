/**
 * The raw server-side-apply capacity of a set of API servers: trivial ConfigMaps applied to all of
 * them at once, `inFlight` requests outstanding per server, through a plain keep-alive HTTPS
 * client (node:https, far cheaper per request than client-node, so the figure is the servers' and
 * not the client's). Every apply changes the object's data, so each one is a real write. This is
 * the yardstick for the propagation benchmark's "write floor".
 */
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';

export interface CapacityTarget {
  name: string;
  server: string;
  caPem: string;
  token: string;
}

export interface CapacityResult {
  /** Applies per second over all servers together. */
  appliesPerSecond: number;
  writes: number;
  failures: number;
  wallMs: number;
  perServer: Map<string, number>;
}

function apply(agent: Agent, target: CapacityTarget, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, target.server);
    const req = request(url, {
      method: 'PATCH',
      agent,
      ca: target.caPem,
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/apply-patch+yaml', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
      timeout: 15_000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Applies `writesPerServer` ConfigMap changes to every target at once (namespace `namespace`,
 * which must exist), `inFlight` at a time per server, over `objects` names reused round-robin.
 */
export async function measureApplyCapacity(
  targets: readonly CapacityTarget[],
  options: { namespace: string; writesPerServer: number; inFlight: number; objects?: number },
): Promise<CapacityResult> {
  const objects = options.objects ?? 200;
  const perServer = new Map<string, number>();
  let failures = 0;
  const started = performance.now();
  await Promise.all(targets.map(async (target) => {
    const agent = new Agent({ keepAlive: true, maxSockets: options.inFlight });
    let next = 0;
    let done = 0;
    try {
      await Promise.all(Array.from({ length: options.inFlight }, async () => {
        while (next < options.writesPerServer) {
          const i = next++;
          const name = `capacity-${i % objects}`;
          const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: options.namespace }, data: { round: String(i) } });
          try {
            const status = await apply(agent, target, `/api/v1/namespaces/${options.namespace}/configmaps/${name}?fieldManager=bench-capacity&force=true`, body);
            if (status >= 200 && status < 300) done += 1;
            else failures += 1;
          } catch {
            failures += 1;
          }
        }
      }));
    } finally {
      agent.destroy();
    }
    perServer.set(target.name, done);
  }));
  const wallMs = performance.now() - started;
  const writes = [...perServer.values()].reduce((a, b) => a + b, 0);
  return { appliesPerSecond: (writes * 1000) / wallMs, writes, failures, wallMs, perServer };
}
