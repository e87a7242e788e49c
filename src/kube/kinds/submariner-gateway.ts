/**
 * Submariner's `submariner.io/v1` Gateway (read only): which gateway is active, and the state of its
 * connection to each remote cluster (`status.connections[].endpoint.cluster_id` and `.status`:
 * `connected`, `connecting` or `error`), as Lighthouse reads it. Only these fields are parsed;
 * anything else of the object is Submariner's.
 */
import { isValidClusterId } from '../../model/names.ts';
import { asObj, meta, str, type Parsed } from './object-meta.ts';

export const SUBMARINER_GROUP = 'submariner.io';
export const SUBMARINER_GATEWAY_API_VERSION = `${SUBMARINER_GROUP}/v1`;
export const KIND_SUBMARINER_GATEWAY = 'Gateway';

export type GatewayConnectionStatus = 'connected' | 'connecting' | 'error';

export interface GatewayConnection {
  cluster: string;
  status: GatewayConnectionStatus;
  message: string;
}

export interface SubmarinerGateway {
  name: string;
  /** `status.haStatus`: only the active gateway's connections count. */
  active: boolean;
  connections: GatewayConnection[];
}

/** A gateway has one connection per remote cluster; far more is not a gateway we can trust. */
const MAX_CONNECTIONS = 1_000;
const STATUSES: ReadonlySet<string> = new Set(['connected', 'connecting', 'error']);

export function parseSubmarinerGateway(obj: unknown): Parsed<SubmarinerGateway> {
  const out: string[] = [];
  const status = asObj(asObj(obj)?.['status']);
  const name = meta(obj).name;
  if (status === undefined) return { ok: false, problems: ['status is missing'] };
  const raw = status['connections'];
  const list = Array.isArray(raw) ? raw : [];
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) out.push('status.connections is not a list');
  if (list.length > MAX_CONNECTIONS) out.push(`status.connections has ${list.length} entries (at most ${MAX_CONNECTIONS})`);
  const connections: GatewayConnection[] = [];
  list.slice(0, MAX_CONNECTIONS).forEach((c, i) => {
    const cluster = str(asObj(asObj(c)?.['endpoint'])?.['cluster_id']);
    const state = str(asObj(c)?.['status']);
    if (cluster === undefined || !isValidClusterId(cluster)) out.push(`status.connections[${i}].endpoint.cluster_id ${JSON.stringify(cluster)} is not a cluster ID`);
    else if (state === undefined || !STATUSES.has(state)) out.push(`status.connections[${i}].status ${JSON.stringify(state)} is not connected, connecting or error`);
    else connections.push({ cluster, status: state as GatewayConnectionStatus, message: (str(asObj(c)?.['statusMessage']) ?? '').slice(0, 200) });
  });
  if (out.length > 0) return { ok: false, problems: out };
  return { ok: true, value: { name, active: status['haStatus'] === 'active', connections } };
}
