import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../src/config/serve-config.ts';
import { UsageError } from '../../src/config/flags.ts';

const base = ['--from-dir', 'examples/basic', '--cluster-id', 'east'];

function parse(argv: string[], env: Record<string, string> = {}) {
  const { config } = parseServeConfig(argv, env, 2);
  if (!config) throw new Error('expected a config');
  return config;
}

function usageError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseServeConfig(argv, env, 2);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('serve flags', () => {
  it('has the documented defaults', () => {
    const c = parse(base);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(c.httpListen).toEqual({ host: '127.0.0.1', port: 9153 });
    expect(c.dns).toEqual({
      zones: ['clusterset.local'],
      ttl: 5,
      negativeTtl: 5,
      policy: 'local-first',
      panicMode: 'nodata',
      clusterNames: true,
      ede: true,
      maxRecords: 4000,
    });
    expect(c.workers).toBe(2); // auto = one per core on a multi-core machine
    expect({
      tcpReadTimeoutMs: c.tcpReadTimeoutMs,
      tcpMaxQueriesPerConnection: c.tcpMaxQueriesPerConnection,
      cacheBytes: c.cacheBytes,
      negativeCacheEntries: c.negativeCacheEntries,
      workerStallTimeoutMs: c.workerStallTimeoutMs,
      debugRemote: c.debugRemote,
    }).toEqual({
      tcpReadTimeoutMs: 2000,
      tcpMaxQueriesPerConnection: 1000,
      cacheBytes: 64 * 1024 * 1024,
      negativeCacheEntries: 16384,
      workerStallTimeoutMs: 5000,
      debugRemote: false,
    });
  });

  it('reads the bounds flags and refuses a cache budget below 8 MiB', () => {
    const c = parse([...base, '--cache-size', '16', '--max-records', '100', '--tcp-read-timeout', '3', '--tcp-max-queries', '50', '--worker-stall-timeout', '2', '--debug-remote']);
    expect([c.cacheBytes, c.dns.maxRecords, c.tcpReadTimeoutMs, c.tcpMaxQueriesPerConnection, c.workerStallTimeoutMs, c.debugRemote]).toEqual([
      16 * 1024 * 1024, 100, 3000, 50, 2000, true,
    ]);
    expect(() => parse([...base, '--cache-size', '4'])).toThrow('--cache-size must be from 8 to 4096, got 4');
  });

  it('has no health listener unless asked; refuses one on the HTTP address or a bad address', () => {
    expect(parse(base).healthListen).toBeUndefined();
    expect(parse([...base, '--health-listen', '0.0.0.0:8080']).healthListen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parse(base, { CLUSTERSET_DNS_HEALTH_LISTEN: '127.0.0.1:8081' }).healthListen).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(usageError([...base, '--health-listen', '127.0.0.1:9153'])).toContain('--health-listen must differ from --http-listen');
    expect(usageError([...base, '--health-listen', 'nonsense'])).toContain('--health-listen');
  });

  it('answers in the main process on a single core when workers are auto', () => {
    const { config } = parseServeConfig(base, {}, 1);
    expect(config?.workers).toBe(0);
  });

  it('reads every flag', () => {
    const c = parse([
      ...base,
      '--listen', '[::1]:53',
      '--http-listen=127.0.0.2:8080',
      '--zone', 'clusterset.local',
      '--zone', 'Example.COM.',
      '--ttl', '30',
      '--negative-ttl', '7',
      '--policy', 'round-robin',
      '--panic-mode', 'all',
      '--no-cluster-names',
      '--no-ede',
      '--workers', '0',
    ]);
    expect(c.listen).toEqual({ host: '::1', port: 53 });
    expect(c.httpListen).toEqual({ host: '127.0.0.2', port: 8080 });
    expect(c.dns.zones).toEqual(['clusterset.local', 'example.com']);
    expect(c.dns).toMatchObject({ ttl: 30, negativeTtl: 7, policy: 'round-robin', panicMode: 'all', clusterNames: false, ede: false });
    expect(c.workers).toBe(0);
  });

  it('takes every flag from the environment, and a flag wins over the environment', () => {
    const env = {
      CLUSTERSET_DNS_FROM_DIR: '/data',
      CLUSTERSET_DNS_CLUSTER_ID: 'west.prod',
      CLUSTERSET_DNS_LISTEN: '127.0.0.1:1053',
      CLUSTERSET_DNS_ZONES: 'a.example, b.example',
      CLUSTERSET_DNS_TTL: '9',
      CLUSTERSET_DNS_POLICY: 'all',
      CLUSTERSET_DNS_CLUSTER_NAMES: 'false',
      CLUSTERSET_DNS_EDE: 'off',
      CLUSTERSET_DNS_WORKERS: '3',
    };
    const c = parse([], env);
    expect(c.fromDir).toBe('/data');
    expect(c.clusterId).toBe('west.prod');
    expect(c.listen.port).toBe(1053);
    expect(c.dns).toMatchObject({ zones: ['a.example', 'b.example'], ttl: 9, policy: 'all', clusterNames: false, ede: false });
    expect(c.workers).toBe(3);
    expect(parse(['--ttl', '11'], env).dns.ttl).toBe(11);
  });

  it.each([
    [['--bogus'], 'unknown flag --bogus for "serve" (see: clusterset-dns serve --help)'],
    [['-x'], 'unknown flag -x for "serve" (flags are long: --name)'],
    [['--ttl', 'five'], '--ttl must be a whole number, got "five"'],
    [['--ttl', '-1'], '--ttl must be from 0 to 86400, got -1'],
    [['--policy', 'closest'], '--policy must be one of local-first, all, round-robin, remote-first, nearest; got "closest"'],
    [['--listen', '5353'], '--listen must be HOST:PORT (IPv6 as [::1]:PORT), got "5353"'],
    [['--listen', 'example.com:53'], '--listen: host must be an IP address or localhost, got "example.com"'],
    [['--listen', '127.0.0.1:70000'], '--listen: port must be from 0 to 65535, got 70000'],
    [['--zone', 'bad_zone.local'], '--zone: zone "bad_zone.local" has an invalid label "bad_zone"'],
    [['--zone', 'clusterset.local', '--zone', 'a.clusterset.local'], '--zone a.clusterset.local is inside --zone clusterset.local; served zones must not nest'],
    [['--workers', 'many'], '--workers must be auto or a whole number from 0 to 64, got "many"'],
    [['--ttl'], '--ttl needs a value'],
    [['--no-ede=yes'], '--no-ede takes no value'],
    [['--ttl', '1', '--ttl', '2'], '--ttl given more than once'],
    [['extra'], '"serve" takes no arguments, got "extra"'],
    [['--lease-renew', '10', '--lease-duration', '10'], '--lease-renew (10s) must be shorter than --lease-duration (10s)'],
  ])('rejects %j with an exact message', (extra, message) => {
    expect(usageError([...base, ...extra])).toBe(message);
  });

  it('requires --from-dir and --cluster-id, and validates the cluster ID', () => {
    expect(usageError(['--cluster-id', 'east'])).toBe('serve: --from-dir DIR is required (or CLUSTERSET_DNS_FROM_DIR)');
    expect(usageError(['--from-dir', 'x'])).toBe('serve: --cluster-id ID is required (or CLUSTERSET_DNS_CLUSTER_ID)');
    expect(usageError(['--from-dir', 'x', '--cluster-id', 'a.b.c'])).toMatch(/^--cluster-id must be one or two lowercase DNS labels/);
  });

  it('names the environment variable when its value is bad', () => {
    expect(usageError(base, { CLUSTERSET_DNS_TTL: 'x' })).toBe('environment variable CLUSTERSET_DNS_TTL must be a whole number, got "x"');
  });
});

describe('short flags (kubectl habits: -o, -n)', () => {
  it('status: -o and -n are --output and --namespace; unknown short flags are refused', async () => {
    const { parseStatusConfig } = await import('../../src/config/status-config.ts');
    expect(parseStatusConfig(['-o', 'json', '-n', 'shop', '--service', 'web'], {}).config).toMatchObject({ output: 'json', namespace: 'shop', service: 'web' });
    expect(parseStatusConfig(['-o=yaml'], {}).config).toMatchObject({ output: 'yaml' });
    expect(() => parseStatusConfig(['-x'], {})).toThrow(new UsageError('unknown flag -x for "status" (flags are long: --name)'));
    expect(() => parseStatusConfig(['-o', 'wide'], {})).toThrow(new UsageError('--output must be one of table, json, yaml; got "wide"'));
  });

  it('doctor service NAME -n NS, and its exact failures', async () => {
    const { parseDoctorConfig } = await import('../../src/config/doctor-config.ts');
    expect(parseDoctorConfig(['service', 'web', '-n', 'shop', '-o', 'json'], {}).config).toMatchObject({ service: { namespace: 'shop', name: 'web' }, output: 'json' });
    expect(() => parseDoctorConfig(['service', 'web'], {})).toThrow(new UsageError("doctor service: -n NS (the service's namespace) is required"));
    expect(() => parseDoctorConfig(['services'], {})).toThrow(new UsageError('doctor: unknown argument "services"; use "doctor" or "doctor service NAME -n NS"'));
  });
});
