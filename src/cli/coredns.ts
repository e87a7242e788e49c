/**
 * `clusterset-dns coredns install|uninstall`: routes the clusterset zone(s) from the cluster's
 * CoreDNS (and NodeLocal DNS, when present) to our DNS server, by editing their Corefiles between
 * marker comments. Pure Corefile logic lives in src/corefile, ConfigMap IO in src/kube.
 */
import { formatFlags } from '../config/flags.ts';
import { COREDNS_FLAGS, parseCorednsConfig, type CorednsConfig, type NamespacedName } from '../config/coredns-config.ts';
import {
  CorefileConflictError,
  CorefileSyntaxError,
  forwardTarget,
  installStub,
  parseCorefile,
  uninstallStub,
  type StubFlavor,
} from '../corefile/index.ts';
import { clusterCredentials } from './kube-credentials.ts';
import { serviceClusterIPs, updateCorefile, type CorefileEdit, type CorefileUpdate } from '../kube/coredns-configmap.ts';
import type { Io } from './io.ts';

const COREDNS_HELP = `Usage: clusterset-dns coredns install|uninstall [--kubeconfig FILE] [--dns-service-ip IP | --dns-service NS/NAME] [--zone ZONE]

install    adds a server block per zone to the cluster CoreDNS's Corefile (and NodeLocal DNS's, when
           its ConfigMap exists) that forwards the zone to the clusterset-dns DNS server. The block
           sits between "# BEGIN clusterset-dns zone Z" and "# END ..." comments; the rest of the
           Corefile is kept byte for byte. Running it again updates the block (for example a new
           Service IP) or changes nothing. It refuses, changing nothing, when the Corefile already
           routes the zone some other way, and names the lines.
uninstall  removes those blocks, nothing else.

Writes are conditional on the ConfigMap's resourceVersion: a concurrent change is never lost (the
edit is recomputed from a fresh read). CoreDNS's reload plugin applies the change once the kubelet
refreshes the mounted ConfigMap (up to about a minute).

Flags:
${formatFlags(COREDNS_FLAGS)}`;

function refText(ref: NamespacedName): string {
  return `${ref.namespace}/${ref.name}`;
}

function hasReload(corefile: string): boolean {
  try {
    return parseCorefile(corefile).blocks.some((b) => b.directives.some((d) => d.name === 'reload'));
  } catch {
    return true; // unparsable: say nothing rather than guess
  }
}

function editFor(config: CorednsConfig, upstreams: string[], flavor: StubFlavor): (corefile: string) => CorefileEdit {
  return (corefile) => {
    let text = corefile;
    const notes: string[] = [];
    for (const zone of config.zones) {
      const result = config.action === 'install'
        ? installStub(text, { zone, upstreams, flavor, clusterDomain: config.clusterDomain })
        : uninstallStub(text, zone);
      text = result.text;
      for (const note of result.notes) if (!notes.includes(note)) notes.push(note);
    }
    return { text, changed: text !== corefile, notes };
  };
}

function report(io: Io, config: CorednsConfig, update: CorefileUpdate, upstreams: string[]): void {
  const where = refText(update.ref);
  const zones = config.zones.join(', ');
  if (config.dryRun) {
    io.stdout.write(`${where}: ${update.changed ? 'would change' : 'already up to date'}${update.changed ? '; the Corefile would be:' : ''}\n`);
    if (update.changed) io.stdout.write(`${update.after.replace(/\n?$/, '\n')}`);
  } else if (!update.changed) {
    io.stdout.write(`${where}: already up to date (${config.action === 'install' ? `${zones} → ${upstreams.join(' ')}` : `no clusterset-dns block for ${zones}`})\n`);
  } else if (config.action === 'install') {
    io.stdout.write(`${where}: ${zones} now forwarded to ${upstreams.join(' ')} (resourceVersion ${update.resourceVersion ?? '?'})\n`);
  } else {
    io.stdout.write(`${where}: removed the clusterset-dns block for ${zones} (resourceVersion ${update.resourceVersion ?? '?'})\n`);
  }
  for (const note of update.notes) io.stdout.write(`${where}: note: ${note}\n`);
  if (update.changed && !config.dryRun && !hasReload(update.after)) {
    io.stdout.write(`${where}: note: the Corefile has no reload plugin; restart its pods to apply the change\n`);
  }
}

export async function runCoredns(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const parsed = parseCorednsConfig(argv, env);
  if (parsed.help || parsed.config === undefined) {
    io.stdout.write(`${COREDNS_HELP}\n`);
    return 0;
  }
  const config = parsed.config;
  const kc = clusterCredentials(config, env);

  let upstreams: string[] = [];
  if (config.action === 'install') {
    try {
      upstreams = config.dnsServiceIps.length > 0
        ? config.dnsServiceIps.map((a) => forwardTarget(a.ip, a.port))
        : (await serviceClusterIPs(kc, config.dnsService)).map((ip) => forwardTarget(ip));
    } catch (err) {
      io.stderr.write(`clusterset-dns: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const targets: Array<{ ref: NamespacedName; flavor: StubFlavor; required: boolean }> = [
    { ref: config.corednsConfigMap, flavor: 'coredns', required: true },
  ];
  if (config.nodeLocalConfigMap !== undefined) targets.push({ ref: config.nodeLocalConfigMap, flavor: 'nodelocal', required: false });

  for (const target of targets) {
    let update: CorefileUpdate;
    try {
      update = await updateCorefile(kc, target.ref, editFor(config, upstreams, target.flavor), { dryRun: config.dryRun });
    } catch (err) {
      if (err instanceof CorefileConflictError || err instanceof CorefileSyntaxError) {
        io.stderr.write(`clusterset-dns: ${refText(target.ref)}: ${err.message}\nNothing was changed${targets.indexOf(target) > 0 ? ' in this ConfigMap' : ''}.\n`);
      } else {
        io.stderr.write(`clusterset-dns: ${(err as Error).message}\n`);
      }
      return 1;
    }
    if (!update.found) {
      if (target.required) {
        io.stderr.write(`clusterset-dns: ConfigMap ${refText(target.ref)} not found; is this cluster's DNS CoreDNS? (--coredns-configmap NS/NAME)\n`);
        return 1;
      }
      io.stdout.write(`${refText(target.ref)}: not found, skipped (no NodeLocal DNS in this cluster)\n`);
      continue;
    }
    report(io, config, update, upstreams);
  }
  return 0;
}
