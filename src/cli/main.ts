/**
 * Entry point: dispatches commands. The only place (with src/config) that sees argv and the
 * environment; everything below receives plain values.
 *
 * Each command's module is loaded only when that command runs: the CLI tools (doctor, status,
 * coredns, broker) use client-node's typed APIs, and loading client-node would cost the
 * long-running `agent` and `dns` ~85 MiB and most of a second each (src/kube/kubeconfig.ts).
 */
import { UsageError } from '../config/flags.ts';
import { VERSION } from './version.ts';
import type { Io } from './io.ts';

const USAGE = `clusterset-dns ${VERSION}: multi-cluster DNS service discovery for Kubernetes (MCS API)

Usage: clusterset-dns COMMAND [flags]

Commands:
  serve     run the embedded default: member clusters from YAML files, the agent pipeline and the DNS server
  agent     run the agent of one member cluster: export to and import from a Kubernetes broker
  dns       run the DNS server of one member cluster, answering from its ServiceImports and MCS EndpointSlices
  explain   show why a name answers what it does (every candidate cluster and endpoint, and the reason)
  coredns   install|uninstall: route the clusterset zone from the cluster's CoreDNS (and NodeLocal DNS) to the DNS server
  doctor    check one cluster's resolution chain (CRDs, agent lease, broker, DNS server, CoreDNS, a test query)
  broker    join-config: write a member cluster's broker kubeconfig with an expiring token
  status    the clusterset from one cluster: clusters (fresh, stale, gone), services, who serves them, conflicts, conditions
  version   print the version

Run "clusterset-dns COMMAND --help" for a command's flags.`;

/** Whether the user asked for debug output (then failures print their stack). */
function debugRequested(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): boolean {
  const i = argv.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  const flag = i < 0 ? undefined : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  const level = flag ?? env['CLUSTERSET_DNS_LOG_LEVEL'];
  return level === 'debug' || level === 'trace';
}

/**
 * A failure as the user sees it: one line naming what failed, with a hint where one is known
 * (ports in use, credentials); the stack only when debug output was asked for.
 */
export function describeFailure(err: unknown, debug: boolean): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n')[0] ?? '';
  let hint = '';
  if (/address already in use/.test(first)) hint = '; another process holds that port: stop it or pass another --listen / --http-listen';
  else if (/permission denied \(EACCES\)/.test(first) && /cannot listen/.test(first)) hint = '; ports below 1024 need root or CAP_NET_BIND_SERVICE: pick a higher port';
  const line = `clusterset-dns: ${first}${hint}`;
  if (!debug || !(err instanceof Error) || err.stack === undefined) return line;
  return `${line}\n${err.stack}`;
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await (await import('./serve-command.ts')).runServe(rest, env, io);
      case 'agent':
        return await (await import('./agent-command.ts')).runAgent(rest, env, io);
      case 'dns':
        return await (await import('./dns-command.ts')).runDns(rest, env, io);
      case 'explain':
        return await (await import('./explain.ts')).runExplain(rest, env, io);
      case 'coredns':
        return await (await import('./coredns.ts')).runCoredns(rest, env, io);
      case 'doctor':
        return await (await import('./doctor.ts')).runDoctor(rest, env, io);
      case 'broker':
        return await (await import('./broker.ts')).runBroker(rest, env, io);
      case 'status':
        return await (await import('./status.ts')).runStatus(rest, env, io);
      case 'version':
      case '--version':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: serve, agent, dns, explain, status, coredns, doctor, broker, version`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`clusterset-dns: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`${describeFailure(err, debugRequested(argv, env))}\n`);
    return 1;
  }
}
