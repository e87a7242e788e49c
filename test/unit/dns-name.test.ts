/** Name parsing: zone matching and the shape of names inside a zone. */
import { describe, expect, it } from 'vitest';
import { classifyName, isPlainLabel, matchZone } from '../../src/dns/name.ts';
import { fixtureSnapshot } from '../helpers/dns-fixture.ts';

describe('matchZone', () => {
  const zones = ['clusterset.local', 'local', 'mcs.example'];
  it.each([
    ['web.shop.svc.clusterset.local', 'clusterset.local', ['web', 'shop', 'svc']],
    ['clusterset.local', 'clusterset.local', []],
    ['foo.local', 'local', ['foo']],
    ['svc.mcs.example', 'mcs.example', ['svc']],
  ])('%s falls in %s (longest match wins)', (name, zone, relative) => {
    expect(matchZone(name.split('.'), zones)).toEqual({ zone, relative });
  });

  it.each([
    ['example.com', ['example', 'com']],
    ['clusterset.local as one label', ['web', 'clusterset.local']],
    ['a zone label with a trailing byte', ['web', 'clusterset', 'local\x00']],
    ['the root', []],
    ['a parent of the zone', ['example']],
  ])('%s is outside every zone', (_what, labels) => {
    expect(matchZone(labels, zones)).toBeNull();
  });
});

describe('isPlainLabel', () => {
  it.each([
    ['web', true],
    ['_http', true],
    ['db-0', true],
    ['web.shop', false],
    ['we b', false],
    ['\u00e9t\u00e9', false],
    ['', false],
    ['a'.repeat(64), false],
  ])('%j → %s', (label, plain) => {
    expect(isPlainLabel(label)).toBe(plain);
  });
});

describe('classifyName', () => {
  const snap = fixtureSnapshot();
  const on = { clusterNames: true };
  const off = { clusterNames: false };
  const kind = (rel: string, ctx = on) => {
    const shape = classifyName(rel === '' ? [] : rel.split('.'), snap, ctx);
    return shape.kind === 'host'
      ? `host ${shape.host}@${shape.cluster}`
      : shape.kind === 'cluster'
        ? `cluster ${shape.cluster}`
        : shape.kind === 'srv'
          ? `srv ${shape.port.name}/${shape.port.protocol}${shape.cluster ? `@${shape.cluster}` : ''}`
          : shape.kind;
  };
  it.each([
    ['', on, 'apex'],
    ['dns-version', on, 'dns-version'],
    ['ns.dns', on, 'nameserver'],
    ['svc', on, 'empty-non-terminal'],
    ['shop.svc', on, 'empty-non-terminal'],
    ['web.shop.svc', on, 'service'],
    ['east.web.shop.svc', on, 'cluster east'],
    ['eu.prod.web.shop.svc', on, 'cluster eu.prod'],
    ['prod.web.shop.svc', on, 'empty-non-terminal'],
    ['east.web.shop.svc', off, 'nxdomain'],
    ['eu.prod.amb.shop.svc', on, 'cluster eu.prod'],
    ['eu.prod.amb.shop.svc', off, 'host eu@prod'],
    ['x.eu.prod.amb.shop.svc', on, 'host x@eu.prod'],
    ['db-0.east.db.shop.svc', off, 'host db-0@east'],
    ['_http._tcp.web.shop.svc', on, 'srv http/TCP'],
    ['_metrics._tcp.eu.prod.web.shop.svc', on, 'srv metrics/TCP@eu.prod'],
    ['_tcp.web.shop.svc', on, 'empty-non-terminal'],
    ['_tcp.eu.prod.web.shop.svc', on, 'empty-non-terminal'],
    ['_http._tcp.prod.web.shop.svc', on, 'nxdomain'],
    ['_http.web.shop.svc', on, 'nxdomain'],
    ['web.shop.svc.extra', on, 'nxdomain'],
  ] as const)('%s (cluster names %o) → %s', (rel, ctx, expected) => {
    expect(kind(rel, ctx)).toBe(expected);
  });
});
