/**
 * `clusterset-dns status`: the clusterset from one cluster's point of view — every cluster (lease
 * age, fresh/stale/gone) and every imported service (clusters serving it and why not the others,
 * ready endpoints, conflicts with the winner, the local exports' conditions), as a table, JSON or
 * YAML. Reads a running `serve` (--url) or a real cluster (--kubeconfig/--context). With --wait it
 * polls until everything shown is ready and exits 1 if that does not happen within --timeout.
 */
import { formatFlags } from '../config/flags.ts';
import { parseStatusConfig, STATUS_FLAGS, type StatusConfig } from '../config/status-config.ts';
import { KUBECONFIG_LOOKUP } from '../config/kube-flags.ts';
import type { StatusReport } from '../model/status-report.ts';
import type { Io } from './io.ts';
import { readClusterStatus } from './status-cluster.ts';
import { StatusSourceError } from './status-error.ts';
import { formatStatusTable } from './status-format.ts';
import { toYaml } from './yaml-out.ts';

const STATUS_HELP = `Usage: clusterset-dns status [--url URL | --kubeconfig FILE --context NAME] [-o table|json|yaml] [--wait] [flags]

Shows the clusterset as one cluster sees it: every cluster with its lease age and state (fresh,
stale, gone), every imported service with the clusters serving it (and why the others are not),
ready endpoints per cluster, conflicts with the winning cluster, and the conditions of this
cluster's ServiceExports. --url reads a running "serve"; otherwise the cluster's API is read
(ServiceImports, MCS EndpointSlices, ServiceExports) and the broker's leases and records.
${KUBECONFIG_LOOKUP}
Exit code: 0; with --wait, 1 when not everything is ready within --timeout.

Flags:
${formatFlags(STATUS_FLAGS)}`;

const POLL_MS = 1_000;

async function fromUrl(config: StatusConfig & { url: string }): Promise<StatusReport> {
  const url = new URL(`${config.url}/status`);
  if (config.namespace !== undefined) url.searchParams.set('namespace', config.namespace);
  if (config.service !== undefined) url.searchParams.set('service', config.service);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(Math.min(config.timeoutMs, 10_000)) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new StatusSourceError(`cannot reach ${config.url} (${cause}); is "clusterset-dns serve" running with --http-listen there?`);
  }
  const body = await res.text();
  if (!res.ok) throw new StatusSourceError(`${config.url}/status answered ${res.status}: ${body.trim().slice(0, 200)}`);
  try {
    return JSON.parse(body) as StatusReport;
  } catch {
    throw new StatusSourceError(`${config.url}/status did not answer JSON: is that a clusterset-dns HTTP address?`);
  }
}

function render(report: StatusReport, config: StatusConfig): string {
  if (config.output === 'json') return JSON.stringify(report, null, 2);
  if (config.output === 'yaml') return toYaml(report);
  return formatStatusTable(report);
}

export async function runStatus(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const parsed = parseStatusConfig(argv, env);
  if (parsed.help || parsed.config === undefined) {
    io.stdout.write(`${STATUS_HELP}\n`);
    return 0;
  }
  const config = parsed.config;
  const read = (): Promise<StatusReport> => (config.url !== undefined ? fromUrl({ ...config, url: config.url }) : readClusterStatus(config, env));
  try {
    let report = await read();
    if (config.wait) {
      const deadline = Date.now() + config.timeoutMs;
      while (!report.ready && Date.now() + POLL_MS <= deadline) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        report = await read();
      }
    }
    io.stdout.write(`${render(report, config)}\n`);
    if (config.wait && !report.ready) {
      io.stderr.write(`clusterset-dns: not ready after ${config.timeoutMs / 1000}s: ${report.notReady.slice(0, 3).join('; ')}${report.notReady.length > 3 ? '; …' : ''}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (err instanceof StatusSourceError) {
      io.stderr.write(`clusterset-dns: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
