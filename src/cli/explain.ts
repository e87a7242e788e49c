/**
 * `clusterset-dns explain NAME [--type T]`: asks a running server (its /debug/explain endpoint)
 * why NAME answers what it does, and prints every candidate cluster and endpoint with the reason.
 */
import { formatFlags, parseArgs, UsageError, type FlagSpec } from '../config/flags.ts';
import { formatExplain, type ExplainReport } from '../dns/explain.ts';
import type { StatusReport } from '../model/status-report.ts';
import type { Io } from './io.ts';

const EXPLAIN_FLAGS: readonly FlagSpec[] = [
  { name: 'type', kind: 'string', env: 'CLUSTERSET_DNS_EXPLAIN_TYPE', metavar: 'QTYPE', default: 'A', help: 'query type: A, AAAA, SRV, TXT, SOA, NS, ANY' },
  { name: 'server', kind: 'string', env: 'CLUSTERSET_DNS_SERVER', metavar: 'URL', default: 'http://127.0.0.1:9153', help: "a running server's HTTP address (its --http-listen)" },
  { name: 'json', kind: 'bool', help: 'print the report as JSON' },
  { name: 'timeout', kind: 'int', metavar: 'SECONDS', min: 1, max: 300, default: 5, help: 'give up after this long' },
];

const EXPLAIN_HELP = `Usage: clusterset-dns explain NAME [--type QTYPE] [--server URL] [--json]

Prints, for one name, the zone and shape it parses to, every candidate cluster and endpoint,
included or excluded and why, and the answer the server gives (rcode, records, EDE).

Flags:
${formatFlags(EXPLAIN_FLAGS)}`;

export async function runExplain(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const parsed = parseArgs('explain', argv, EXPLAIN_FLAGS, env, 1);
  if (parsed.help) {
    io.stdout.write(`${EXPLAIN_HELP}\n`);
    return 0;
  }
  const name = parsed.positionals[0];
  if (!name) throw new UsageError('explain: NAME is required, e.g. clusterset-dns explain web.shop.svc.clusterset.local');
  const server = (parsed.values['server'] as string).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(`${server}/debug/explain`);
  } catch {
    throw new UsageError(`--server must be an http:// URL, got ${JSON.stringify(server)}`);
  }
  url.searchParams.set('name', name);
  url.searchParams.set('type', (parsed.values['type'] as string).toUpperCase());

  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout((parsed.values['timeout'] as number) * 1000) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    io.stderr.write(`clusterset-dns: cannot reach a server at ${server} (${cause}); start one with "npm start" or pass --server\n`);
    return 1;
  }
  const body = await res.text();
  if (!res.ok) {
    io.stderr.write(`clusterset-dns: ${server} answered ${res.status}: ${body.trim()}\n`);
    return 1;
  }
  if (parsed.values['json']) {
    io.stdout.write(`${body.trim()}\n`);
  } else {
    const report = JSON.parse(body) as ExplainReport;
    io.stdout.write(`${formatExplain(report)}\n`);
    const extra = report.service === null ? [] : await statusLines(server, report.service, (parsed.values['timeout'] as number) * 1000);
    if (extra.length > 0) io.stdout.write(`${extra.join('\n')}\n`);
  }
  return 0;
}

/**
 * Conflicts, this cluster's ServiceExport conditions and file problems for the service, from the
 * server's /status (the same report as `clusterset-dns status`). Servers without /status (the
 * `dns` command) simply add nothing.
 */
async function statusLines(server: string, service: { namespace: string; name: string }, timeoutMs: number): Promise<string[]> {
  const url = new URL(`${server}/status`);
  url.searchParams.set('namespace', service.namespace);
  url.searchParams.set('service', service.name);
  let status: StatusReport;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return [];
    status = (await res.json()) as StatusReport;
  } catch {
    return [];
  }
  const lines: string[] = [];
  const entry = status.services.find((s) => s.namespace === service.namespace && s.name === service.name);
  for (const c of entry?.conflicts ?? []) lines.push(`conflict: ${c.reason}, winner ${c.winner} (oldest export)${c.details.length > 0 ? `: ${c.details.join('; ')}` : ''}`);
  for (const c of entry?.exportConditions ?? []) lines.push(`ServiceExport in ${status.cluster}: ${c.type}=${c.status} ${c.reason}${c.message !== '' ? `: ${c.message}` : ''}`);
  for (const p of status.problems) lines.push(`file problem (${p.severity}): ${p.text}`);
  return lines;
}
