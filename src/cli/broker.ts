/**
 * `clusterset-dns broker join-config --cluster ID`: writes a member cluster's broker kubeconfig,
 * with a bound, expiring token (TokenRequest), so nobody builds one by hand or keeps a token that
 * never expires. Run it again before the token expires and update the member's Secret: the agent
 * rereads the file without a restart.
 */
import { writeFileSync } from 'node:fs';
import { JOIN_CONFIG_FLAGS, parseJoinConfig } from '../config/broker-config.ts';
import { formatFlags, UsageError } from '../config/flags.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { buildJoinConfig } from '../kube/join-config.ts';
import type { Io } from './io.ts';

const BROKER_HELP = `Usage: clusterset-dns broker join-config --cluster ID [--kubeconfig FILE] [--output FILE] [flags]

Writes the broker kubeconfig of member cluster ID: the broker's URL and CA, and a bound token of
ServiceAccount member-ID (manifests/overlays/broker/members/ID.yaml) that expires after --duration.
Refuses when the broker namespace is not protected by the ownership policy. Give the result to the
member: kubectl -n clusterset-dns-system create secret generic clusterset-dns-broker
--from-file=kubeconfig=FILE (on renewal: the same with --dry-run=client -o yaml | kubectl apply -f -).

Flags:
${formatFlags(JOIN_CONFIG_FLAGS)}`;

export async function runBroker(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(`${BROKER_HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'join-config') throw new UsageError(`broker: unknown subcommand ${JSON.stringify(sub)}; subcommands: join-config`);
  const { config, help } = parseJoinConfig(rest, env);
  if (help || config === undefined) {
    io.stdout.write(`${BROKER_HELP}\n`);
    return 0;
  }
  let admin;
  try {
    admin = loadKubeConfig(config.kubeconfig, '--kubeconfig', env);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  let result;
  try {
    result = await buildJoinConfig(admin, {
      cluster: config.cluster,
      namespace: config.brokerNamespace,
      expirationSeconds: config.durationSeconds,
      ...(config.server === undefined ? {} : { server: config.server }),
    });
  } catch (err) {
    io.stderr.write(`clusterset-dns: broker join-config: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (config.output === undefined) io.stdout.write(result.kubeconfig);
  else {
    writeFileSync(config.output, result.kubeconfig, { mode: 0o600 });
    io.stderr.write(`wrote ${config.output}: ${config.brokerNamespace}/${result.serviceAccount}, token expires ${result.expiresAt.toISOString()}\n`);
  }
  return 0;
}
