import { describe, expect, it } from 'vitest';
import { ALL_GRANTED, isGranted, parseGrants } from '../../src/model/namespace-grants.ts';

describe('namespace grants: which cluster may export which namespace', () => {
  const { grants, problems } = parseGrants({ east: 'shop, payments', west: '*', north: '', 'a.b.c': 'shop', south: 'Shop,db' });

  it.each([
    ['east', 'shop', true],
    ['east', 'payments', true],
    ['east', 'analytics', false],
    ['west', 'anything', true],
    ['north', 'shop', false], // listed with nothing: may export nothing
    ['south', 'db', true],
    ['south', 'Shop', false], // not a namespace name: ignored, reported
    ['eu.prod', 'shop', true], // not listed: the MCS default, every namespace
  ])('%s may export %s: %s', (cluster, namespace, granted) => {
    expect(isGranted(grants, cluster, namespace)).toBe(granted);
  });

  it('reports what it could not read instead of guessing', () => {
    expect(problems).toEqual(['key "a.b.c" is not a cluster ID', 'south: "Shop" not namespace names (ignored)']);
    expect(parseGrants({ east: 7 as unknown as string }).grants.byCluster.get('east')).toEqual(new Set());
  });

  it('no ConfigMap (or an empty one) grants everything', () => {
    expect(isGranted(ALL_GRANTED, 'east', 'shop')).toBe(true);
    expect(isGranted(parseGrants(undefined).grants, 'east', 'shop')).toBe(true);
  });
});
