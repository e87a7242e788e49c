/**
 * Entry point: dispatches commands. The only place (with src/config) that sees argv and the
 * environment; everything below receives plain values.
 */
import { UsageError } from '../config/flags.ts';
import { runAgent } from './agent.ts';
import { runDns } from './dns.ts';
import { runServe } from './serve.ts';
import { runExplain } from './explain.ts';
import { runCoredns } from './coredns.ts';
import { runDoctor } from './doctor.ts';
import { runBroker } from './broker.ts';
import { VERSION } from './version.ts';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

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
  version   print the version

Run "clusterset-dns COMMAND --help" for a command's flags.`;

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServe(rest, env, io);
      case 'agent':
        return await runAgent(rest, env, io);
      case 'dns':
        return await runDns(rest, env, io);
      case 'explain':
        return await runExplain(rest, env, io);
      case 'coredns':
        return await runCoredns(rest, env, io);
      case 'doctor':
        return await runDoctor(rest, env, io);
      case 'broker':
        return await runBroker(rest, env, io);
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
        throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: serve, agent, dns, explain, coredns, doctor, broker, version`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`clusterset-dns: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`clusterset-dns: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
