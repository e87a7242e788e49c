/**
 * KEP-2149 ClusterProperties as this project reads them: the probe-target syntax (what other
 * clusters will connect to), the topology values, what the agent publishes from them, what the
 * broker validator refuses from another cluster, and where the cluster ID comes from.
 */
import { describe, expect, it } from 'vitest';
import {
  PROPERTY_CLUSTER_ID,
  PROPERTY_LEGACY_CLUSTER_ID,
  PROPERTY_PROBE_TARGETS,
  PROPERTY_REGION,
  PROPERTY_ZONE,
  parseProbeTarget,
  parseProbeTargets,
  publishedPropertiesFrom,
  publishedPropertiesProblems,
  resolveClusterId,
} from '../../src/model/cluster-properties.ts';
import { validateLease } from '../../src/model/broker-validation.ts';

describe('probe targets', () => {
  const valid: Array<[string, { scheme: string; host: string; port: number; path: string; text: string }]> = [
    ['tcp://10.0.0.5:4500', { scheme: 'tcp', host: '10.0.0.5', port: 4500, path: '', text: 'tcp://10.0.0.5:4500' }],
    ['  TCP://Gateway.West.example:443 ', { scheme: 'tcp', host: 'gateway.west.example', port: 443, path: '', text: 'tcp://gateway.west.example:443' }],
    ['http://10.0.0.5:8080/healthz', { scheme: 'http', host: '10.0.0.5', port: 8080, path: '/healthz', text: 'http://10.0.0.5:8080/healthz' }],
    ['http://10.0.0.5:8080', { scheme: 'http', host: '10.0.0.5', port: 8080, path: '/', text: 'http://10.0.0.5:8080/' }],
    ['tcp://[FD00:0:0::5]:4500', { scheme: 'tcp', host: 'fd00::5', port: 4500, path: '', text: 'tcp://[fd00::5]:4500' }],
    ['tcp://127.0.0.1:9', { scheme: 'tcp', host: '127.0.0.1', port: 9, path: '', text: 'tcp://127.0.0.1:9' }],
  ];
  for (const [input, target] of valid) {
    it(`reads ${JSON.stringify(input)}`, () => expect(parseProbeTarget(input)).toEqual({ ok: true, target }));
  }

  const invalid: Array<[string, string]> = [
    ['udp://10.0.0.5:4500', 'scheme udp is not tcp or http'],
    ['https://10.0.0.5:443/', 'scheme https is not tcp or http'],
    ['tcp://10.0.0.5', 'no port (write HOST:PORT)'],
    ['tcp://10.0.0.5:0', 'port 0 is not 1-65535'],
    ['tcp://10.0.0.5:65536', 'port 65536 is not 1-65535'],
    ['tcp://10.0.0.5:80/x', 'a tcp target has no path'],
    ['tcp://fd00::5:80', 'not of the form tcp://HOST:PORT or http://HOST:PORT/PATH'],
    ['tcp://[10.0.0.5]:80', 'an IPv6 host must be written in brackets, and only an IPv6 host'],
    ['tcp://10.0.0.300:80', 'host "10.0.0.300" is not a valid IPv4 address'],
    ['tcp://0.0.0.0:80', 'host 0.0.0.0 is the unspecified address'],
    ['tcp://[::]:80', 'host :: is the unspecified address'],
    ['tcp://224.0.0.1:80', 'host 224.0.0.1 is multicast, broadcast or reserved'],
    ['tcp://[ff02::1]:80', 'host ff02::1 is multicast'],
    ['tcp://under_score:80', 'host "under_score" is neither an IP address nor a DNS name'],
    ['http://10.0.0.5:80/a b', `path "/a b" has characters a request line cannot carry (no spaces, '?' or '#')`],
    ['http://10.0.0.5:80/a?b', `path "/a?b" has characters a request line cannot carry (no spaces, '?' or '#')`],
    ['10.0.0.5:80', 'not of the form tcp://HOST:PORT or http://HOST:PORT/PATH'],
    ['', 'empty target'],
  ];
  for (const [input, reason] of invalid) {
    it(`refuses ${JSON.stringify(input)}: ${reason}`, () => expect(parseProbeTarget(input)).toEqual({ ok: false, reason: `${JSON.stringify(input)}: ${reason}` }));
  }

  it('refuses a target longer than 256 characters', () => {
    const long = `http://10.0.0.5:80/${'a'.repeat(250)}`;
    expect(parseProbeTarget(long)).toMatchObject({ ok: false, reason: expect.stringContaining('longer than 256 characters') });
  });

  it('keeps the good targets of a list, names each bad one, de-duplicates and caps at 8', () => {
    const r = parseProbeTargets('tcp://10.0.0.5:4500, bogus ,tcp://10.0.0.5:4500,,http://10.0.0.6:80/h');
    expect(r.targets.map((t) => t.text)).toEqual(['tcp://10.0.0.5:4500', 'http://10.0.0.6:80/h']);
    expect(r.problems).toEqual([`${PROPERTY_PROBE_TARGETS}: "bogus": not of the form tcp://HOST:PORT or http://HOST:PORT/PATH`]);
    const many = Array.from({ length: 10 }, (_, i) => `tcp://10.0.0.${i + 1}:80`).join(',');
    const capped = parseProbeTargets(many);
    expect(capped.targets).toHaveLength(8);
    expect(capped.problems).toEqual([`${PROPERTY_PROBE_TARGETS}: 10 targets (at most 8); the first 8 are used`]);
    expect(parseProbeTargets('x'.repeat(2049))).toEqual({ targets: [], problems: [`${PROPERTY_PROBE_TARGETS}: value longer than 2048 characters`] });
  });
});

describe('published properties', () => {
  it('come from the probe, region and zone properties; other properties are not published', () => {
    const props = new Map([
      [PROPERTY_PROBE_TARGETS, 'tcp://10.0.0.5:4500'],
      [PROPERTY_REGION, ' eu-west-1 '],
      [PROPERTY_ZONE, 'eu-west-1a'],
      [PROPERTY_CLUSTER_ID, 'west'],
    ]);
    const { value, problems } = publishedPropertiesFrom(props);
    expect(problems).toEqual([]);
    expect(value).toEqual({ probeTargets: [expect.objectContaining({ text: 'tcp://10.0.0.5:4500' })], region: 'eu-west-1', zone: 'eu-west-1a' });
  });

  it('leave out a bad topology value with its reason, keeping the rest', () => {
    const { value, problems } = publishedPropertiesFrom(new Map([[PROPERTY_REGION, 'eu west'], [PROPERTY_ZONE, 'z'.repeat(64)]]));
    expect(value).toEqual({ probeTargets: [] });
    expect(problems).toEqual([
      `${PROPERTY_REGION}: "eu west" is not a label value (letters, digits, '-', '_', '.')`,
      `${PROPERTY_ZONE}: must be 1-63 characters`,
    ]);
  });

  it('none at all: nothing announced (a cluster without targets counts as reachable)', () => {
    expect(publishedPropertiesFrom(new Map())).toEqual({ value: { probeTargets: [] }, problems: [] });
  });

  it('from another cluster are refused by the broker validator when not canonical or out of bounds', () => {
    const good = publishedPropertiesFrom(new Map([[PROPERTY_PROBE_TARGETS, 'tcp://10.0.0.5:4500']])).value;
    expect(publishedPropertiesProblems(good)).toEqual([]);
    const forged = { probeTargets: [{ scheme: 'tcp' as const, host: '10.0.0.5', port: 4500, path: '', text: 'tcp://0.0.0.0:1' }] };
    expect(publishedPropertiesProblems(forged)).toEqual(['probe target "tcp://0.0.0.0:1": host 0.0.0.0 is the unspecified address']);
    const mismatched = { probeTargets: [{ scheme: 'tcp' as const, host: '10.0.0.6', port: 4500, path: '', text: 'tcp://10.0.0.5:4500' }] };
    expect(publishedPropertiesProblems(mismatched)).toEqual(['probe target "tcp://10.0.0.5:4500" is not in canonical form']);
    const tooMany = { probeTargets: Array.from({ length: 9 }, () => good.probeTargets[0]!) };
    expect(publishedPropertiesProblems(tooMany)).toEqual(['9 probe targets (at most 8)']);
    expect(validateLease({ cluster: 'west', renewedAt: 1, durationMs: 1000, properties: { probeTargets: [], region: 'a b' } })).toEqual([
      `published properties: region: "a b" is not a label value (letters, digits, '-', '_', '.')`,
    ]);
  });
});

describe('cluster ID', () => {
  const props = (entries: Array<[string, string]>): Map<string, string> => new Map(entries);
  const table: Array<[string, string | undefined, Map<string, string> | undefined, ReturnType<typeof resolveClusterId>]> = [
    ['the flag alone', 'west', undefined, { ok: true, id: 'west', source: 'flag' }],
    ['the standard property', undefined, props([[PROPERTY_CLUSTER_ID, 'west']]), { ok: true, id: 'west', source: PROPERTY_CLUSTER_ID }],
    ['the older property', undefined, props([[PROPERTY_LEGACY_CLUSTER_ID, 'west.prod']]), { ok: true, id: 'west.prod', source: PROPERTY_LEGACY_CLUSTER_ID }],
    ['flag and property agreeing', 'west', props([[PROPERTY_CLUSTER_ID, 'west']]), { ok: true, id: 'west', source: 'flag' }],
    ['both properties agreeing', undefined, props([[PROPERTY_CLUSTER_ID, 'west'], [PROPERTY_LEGACY_CLUSTER_ID, 'west']]), { ok: true, id: 'west', source: PROPERTY_CLUSTER_ID }],
    [
      'flag and property disagreeing',
      'east',
      props([[PROPERTY_CLUSTER_ID, 'west']]),
      { ok: false, error: `cluster ID mismatch: --cluster-id is east but ClusterProperty ${PROPERTY_CLUSTER_ID} is west; refusing to start (make them agree)` },
    ],
    [
      'the two properties disagreeing',
      undefined,
      props([[PROPERTY_CLUSTER_ID, 'west'], [PROPERTY_LEGACY_CLUSTER_ID, 'east']]),
      { ok: false, error: `cluster ID mismatch: ClusterProperty ${PROPERTY_CLUSTER_ID} is west but ClusterProperty ${PROPERTY_LEGACY_CLUSTER_ID} is east; refusing to start (make them agree)` },
    ],
    ['an invalid property', undefined, props([[PROPERTY_CLUSTER_ID, 'a.b.c']]), { ok: false, error: `ClusterProperty ${PROPERTY_CLUSTER_ID} "a.b.c" is not a valid cluster ID (one or two DNS labels)` }],
    ['nothing, properties served', undefined, props([]), { ok: false, error: `no cluster ID: pass --cluster-id ID or create the ClusterProperty ${PROPERTY_CLUSTER_ID} (spec.value: this cluster's ID)` }],
    ['nothing, properties not served', undefined, undefined, { ok: false, error: `no cluster ID: pass --cluster-id ID (the API server does not serve about.k8s.io ClusterProperties to read ${PROPERTY_CLUSTER_ID} from)` }],
  ];
  for (const [name, flag, properties, want] of table) {
    it(name, () => expect(resolveClusterId(flag, properties)).toEqual(want));
  }
});
