/** Flags of `agent` and `dns`: documented defaults, env equivalents, and exact failure messages. */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/config/agent-config.ts';
import { parseDnsConfig } from '../../src/config/dns-config.ts';
import { UsageError } from '../../src/config/flags.ts';

const agentBase = ['--cluster-id', 'east', '--broker-kubeconfig', '/etc/broker/kubeconfig'];

function agentError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseAgentConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('agent flags', () => {
  it('has the documented defaults (in-cluster config, all namespaces)', () => {
    expect(parseAgentConfig(agentBase, {}).config).toEqual({
      clusterId: 'east',
      brokerKubeconfig: '/etc/broker/kubeconfig',
      brokerNamespace: 'clusterset-broker',
      leaseDurationMs: 30_000,
      leaseRenewMs: 10_000,
      gcGraceMs: 600_000,
      resyncMs: 300_000,
      concurrency: 8,
      httpListen: { host: '127.0.0.1', port: 9154 },
      logLevel: 'info',
      addressPolicy: { allowed: [] },
      skewToleranceMs: 30_000,
      logFormat: 'auto',
    });
  });

  it('reads every value from the environment too', () => {
    const config = parseAgentConfig([], {
      CLUSTERSET_DNS_CLUSTER_ID: 'east.prod',
      CLUSTERSET_DNS_KUBECONFIG: '/k',
      CLUSTERSET_DNS_BROKER_KUBECONFIG: '/b',
      CLUSTERSET_DNS_BROKER_NAMESPACE: 'mcs',
      CLUSTERSET_DNS_NAMESPACES: 'shop, db',
      CLUSTERSET_DNS_LEASE_DURATION: '20',
      CLUSTERSET_DNS_LEASE_RENEW: '5',
      CLUSTERSET_DNS_GC_GRACE: '60',
      CLUSTERSET_DNS_RESYNC: '0',
      CLUSTERSET_DNS_CONCURRENCY: '2',
      CLUSTERSET_DNS_AGENT_HTTP_LISTEN: '0.0.0.0:9000',
      CLUSTERSET_DNS_LOG_LEVEL: 'debug',
      CLUSTERSET_DNS_ALLOWED_CIDRS: '10.0.0.0/8,fd00::/8',
      CLUSTERSET_DNS_SKEW_TOLERANCE: '5',
      CLUSTERSET_DNS_LOG_FORMAT: 'text',
      CLUSTERSET_DNS_CONTEXT: 'east-admin',
      CLUSTERSET_DNS_BROKER_CONTEXT: 'broker',
    }).config;
    expect(config).toEqual({
      clusterId: 'east.prod',
      kubeconfig: '/k',
      brokerKubeconfig: '/b',
      brokerNamespace: 'mcs',
      namespaces: ['shop', 'db'],
      leaseDurationMs: 20_000,
      leaseRenewMs: 5_000,
      gcGraceMs: 60_000,
      resyncMs: 0,
      concurrency: 2,
      httpListen: { host: '0.0.0.0', port: 9000 },
      logLevel: 'debug',
      addressPolicy: { allowed: [expect.objectContaining({ text: '10.0.0.0/8' }), expect.objectContaining({ text: 'fd00::/8' })] },
      skewToleranceMs: 5_000,
      logFormat: 'text',
      context: 'east-admin',
      brokerContext: 'broker',
    });
  });

  it('without --cluster-id leaves the ID to the ClusterProperty (resolved at start)', () => {
    expect(parseAgentConfig(agentBase.slice(2), {}).config?.clusterId).toBeUndefined();
  });

  const failures: Array<{ argv: string[]; message: string }> = [
    { argv: ['--cluster-id', 'east'], message: 'agent: --broker-kubeconfig FILE or --broker-context NAME is required (or CLUSTERSET_DNS_BROKER_KUBECONFIG, CLUSTERSET_DNS_BROKER_CONTEXT)' },
    { argv: [...agentBase.slice(2), '--cluster-id', 'a.b.c'], message: `--cluster-id must be one or two lowercase DNS labels (a-z, 0-9, '-', at most 63 each), got "a.b.c"` },
    { argv: [...agentBase, '--lease-renew', '30', '--lease-duration', '30'], message: '--lease-renew (30s) must be shorter than --lease-duration (30s)' },
    { argv: [...agentBase, '--namespaces', 'Shop'], message: '--namespaces must be a namespace name (a DNS label), got "Shop"' },
    { argv: [...agentBase, '--broker-namespace', 'a_b'], message: '--broker-namespace must be a namespace name (a DNS label), got "a_b"' },
    { argv: [...agentBase, '--lease-duration', '0'], message: '--lease-duration must be from 1 to 3600, got 0' },
    { argv: [...agentBase, '--allowed-cidrs', '10.1.0.0/8'], message: '--allowed-cidrs: "10.1.0.0/8": host bits are set (did you mean 10.0.0.0/8?)' },
    { argv: [...agentBase, '--allowed-cidrs', '10.0.0.0'], message: '--allowed-cidrs: "10.0.0.0" is not a CIDR (address/prefix)' },
    { argv: [...agentBase, '--listen', ':53'], message: 'unknown flag --listen for "agent" (see: clusterset-dns agent --help)' },
  ];
  for (const f of failures) {
    it(`rejects ${f.argv.slice(-2).join(' ')}`, () => expect(agentError(f.argv)).toBe(f.message));
  }
});

describe('dns flags', () => {
  it('shares the DNS server flags of serve, with the cluster and kubeconfig', () => {
    const config = parseDnsConfig(['--cluster-id', 'west', '--kubeconfig', '/k', '--listen', '127.0.0.1:53', '--zone', 'cs.example', '--workers', '0'], {}, 2).config;
    expect(config).toMatchObject({ clusterId: 'west', kubeconfig: '/k', listen: { host: '127.0.0.1', port: 53 }, workers: 0, dns: { zones: ['cs.example'] } });
  });

  it('leaves the cluster ID to the ClusterProperty when no flag is given, and rejects serve-only flags', () => {
    expect(parseDnsConfig([], {}).config?.clusterId).toBeUndefined();
    expect(() => parseDnsConfig(['--cluster-id', 'west', '--from-dir', 'x'], {})).toThrow('unknown flag --from-dir for "dns" (see: clusterset-dns dns --help)');
  });
});
