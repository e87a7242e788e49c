/**
 * This cluster's ID at start, for the agent and the DNS server: the --cluster-id flag, or the
 * cluster's own KEP-2149 ClusterProperty (`cluster.clusterset.k8s.io`, older `id.k8s.io`), and a
 * refusal to start when any two of them disagree (model/cluster-properties.ts resolveClusterId).
 *
 * With the flag given, an API server that cannot be read yet does not block the start (the flag
 * is all we need; the check is logged as skipped). Without it, the read is retried a bounded number
 * of times, then the start fails with what to do.
 */
import type { Logger } from 'pino';
import type { KubeConfig } from '../kube/client.ts';
import { describeApiError, serverOf } from '../kube/client.ts';
import { readClusterProperties } from '../kube/cluster-properties.ts';
import { resolveClusterId } from '../model/cluster-properties.ts';

export interface ClusterIdOptions {
  timeoutMs?: number;
  attempts?: number;
  retryMs?: number;
}

export class ClusterIdError extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function clusterIdAtStart(kc: KubeConfig, flag: string | undefined, logger: Logger, options: ClusterIdOptions = {}): Promise<string> {
  const attempts = flag === undefined ? (options.attempts ?? 15) : 1;
  let read: Awaited<ReturnType<typeof readClusterProperties>>;
  for (let attempt = 1; ; attempt++) {
    try {
      read = await readClusterProperties(kc, options.timeoutMs ?? 10_000);
      break;
    } catch (err) {
      if (flag !== undefined) {
        logger.warn({ server: serverOf(kc), err: describeApiError(err) }, `could not read ClusterProperties; using --cluster-id ${flag} unchecked`);
        return flag;
      }
      if (attempt >= attempts) {
        throw new ClusterIdError(`no --cluster-id, and the ClusterProperties of ${serverOf(kc)} could not be read (${describeApiError(err)}); pass --cluster-id ID`);
      }
      if (attempt === 1) logger.warn({ server: serverOf(kc), err: describeApiError(err) }, 'reading ClusterProperties for the cluster ID failed; retrying');
      await sleep(options.retryMs ?? 2_000);
    }
  }
  for (const problem of read?.problems ?? []) logger.warn({ problem }, 'ignoring an invalid ClusterProperty');
  const resolved = resolveClusterId(flag, read?.properties);
  if (!resolved.ok) throw new ClusterIdError(resolved.error);
  if (resolved.source !== 'flag') logger.info({ cluster: resolved.id, from: `ClusterProperty ${resolved.source}` }, 'cluster ID taken from the ClusterProperty');
  return resolved.id;
}
