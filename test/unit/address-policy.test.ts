import { describe, expect, it } from 'vitest';
import { addressPolicyFrom, checkAddress, filterAddresses, parseCidr, summarizeRejections } from '../../src/model/address-policy.ts';

describe('address policy: what a member may never make another cluster answer', () => {
  it.each([
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['FEBF::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:169.254.169.254', 'IPv4-mapped'],
    ['::ffff:10.1.2.3', 'IPv4-mapped'],
    ['::10.1.2.3', 'IPv4-compatible'],
    ['fe80::1%eth0', 'zone IDs'],
    ['10.1.2', 'not an IP address'],
    ['010.1.2.3', 'not an IP address'],
  ])('%s is refused (%s)', (address, why) => {
    const r = checkAddress(address);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });

  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['192.0.2.10', '192.0.2.10'],
    ['2001:DB8:0::1', '2001:db8::1'],
    ['fd00::a', 'fd00::a'],
    ['fec0::1', 'fec0::1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s is accepted as %s', (address, canonical) => {
    expect(checkAddress(address)).toEqual({ ok: true, family: address.includes(':') ? 'IPv6' : 'IPv4', canonical });
  });

  it('--allowed-cidrs: only addresses inside one of them pass', () => {
    const policy = addressPolicyFrom(['10.0.0.0/8', 'fd00::/8']);
    expect(checkAddress('10.200.0.1', policy).ok).toBe(true);
    expect(checkAddress('fd12::1', policy).ok).toBe(true);
    const out = checkAddress('192.168.1.1', policy);
    expect(out).toEqual({ ok: false, reason: '192.168.1.1: outside the allowed CIDRs (10.0.0.0/8, fd00::/8)' });
    // The forbidden ranges hold even inside an allowed CIDR.
    expect(checkAddress('127.0.0.1', addressPolicyFrom(['0.0.0.0/0'])).ok).toBe(false);
  });

  it.each([
    ['10.0.0.0', 'not a CIDR'],
    ['10.1.0.0/8', 'host bits are set (did you mean 10.0.0.0/8?)'],
    ['10.0.0.0/33', 'prefix length must be 0-32'],
    ['fd00::/129', 'prefix length must be 0-128'],
    ['fd00::%1/8', 'zone IDs'],
  ])('CIDR %s is refused: %s', (text, why) => {
    const r = parseCidr(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
    expect(() => addressPolicyFrom([text])).toThrow(why);
  });

  it('filterAddresses canonicalises, de-duplicates, checks the family and says why each was dropped', () => {
    const { accepted, rejected } = filterAddresses(['2001:db8::1', '2001:DB8:0::1', '::1', '10.1.2.3'], { allowed: [] }, 'IPv6');
    expect(accepted).toEqual(['2001:db8::1']);
    expect(rejected.map((r) => r.reason)).toEqual(['::1: loopback address', '10.1.2.3: not an IPv6 address']);
    expect(summarizeRejections(Array.from({ length: 7 }, () => rejected[0]!))).toMatch(/\(\+2 more\)$/);
  });
});
