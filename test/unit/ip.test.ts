import { describe, expect, it } from 'vitest';
import { canonicalIp, formatIp, parseIp } from '../../src/model/ip.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('IP parsing: every textual form gives the right bytes', () => {
  it.each([
    ['10.1.2.3', '0a010203', '10.1.2.3'],
    ['0.0.0.0', '00000000', '0.0.0.0'],
    ['255.255.255.255', 'ffffffff', '255.255.255.255'],
    ['2001:db8::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:DB8:0:0::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '20010db8000000000000000000000001', '2001:db8::1'],
    ['::', '00000000000000000000000000000000', '::'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['1::', '00010000000000000000000000000000', '1::'],
    ['::ffff:169.254.169.254', '00000000000000000000ffffa9fea9fe', '::ffff:169.254.169.254'],
    ['2001:db8::1.2.3.4', '20010db8000000000000000001020304', '2001:db8::102:304'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
    ['1:0:0:2:0:0:0:3', '00010000000000020000000000000003', '1:0:0:2::3'],
    ['fd00:1:0:0:1::', 'fd000001000000000001000000000000', 'fd00:1:0:0:1::'],
  ])('%s', (text, bytes, canonical) => {
    const r = parseIp(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(hex(r.ip.bytes)).toBe(bytes);
    expect(r.ip.canonical).toBe(canonical);
    expect(formatIp(r.ip.bytes)).toBe(canonical);
  });

  it.each([
    ['fe80::1%eth0', /zone ID/],
    ['1.2.3', /four/],
    ['1.2.3.256', /above 255/],
    ['01.2.3.4', /leading zero/],
    ['1.2.3.00', /leading zero/],
    ['1.2.3.4.', /four/],
    ['.1.2.3', /four|decimal/],
    ['1..2.3', /decimal/],
    ['1.2.3.1000', /decimal|above/],
    ['1.2.3.+4', /decimal/],
    ['1.2.3.4 ', /decimal/],
    ['1::2::3', /at most one/],
    ['1:2:3:4:5:6:7:8:9', /eight groups|too many/],
    ['1:2:3:4:5:6:7', /eight groups/],
    ['12345::', /hex digits/],
    ['::1.2.3.4:5', /hex digits|IPv4/],
    ['', /empty/],
    ['x'.repeat(100), /longer/],
    ['g::1', /hex digits/],
  ])('%s is refused with a reason', (text, reason) => {
    const r = parseIp(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('canonicalIp makes equal addresses compare equal', () => {
    expect(canonicalIp('2001:DB8::0:1')).toBe(canonicalIp('2001:db8:0:0:0:0:0:1'));
    expect(canonicalIp('nope')).toBeUndefined();
  });
});
