/**
 * The message writer's name compression (RFC 1035 §4.1.4): a name whose suffix is already in the
 * message points at it, case-insensitively, and keeps the case it was given for what it writes;
 * empty labels are skipped; oversized labels and names are errors, never a malformed message.
 */
import { describe, expect, it } from 'vitest';
import { WireWriter } from '../../src/server/wire-writer.ts';

/** Reads the name at `offset`, following pointers, as dotted text; and how many bytes it took there. */
function readName(bytes: Buffer, offset: number): { name: string; length: number } {
  const labels: string[] = [];
  let at = offset;
  let length = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = bytes[at]!;
    if (len === 0) {
      if (length < 0) length = at + 1 - offset;
      return { name: labels.join('.'), length };
    }
    if ((len & 0xc0) === 0xc0) {
      if (length < 0) length = at + 2 - offset;
      at = bytes.readUInt16BE(at) & 0x3fff;
      continue;
    }
    labels.push(bytes.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  throw new Error('pointer loop');
}

function written(names: string[]): { bytes: Buffer; starts: number[] } {
  const writer = new WireWriter();
  const starts: number[] = [];
  try {
    for (const name of names) {
      starts.push(writer.offset);
      writer.name(name);
    }
    return { bytes: writer.toBuffer(), starts };
  } finally {
    writer.release();
  }
}

describe('WireWriter names', () => {
  it('writes a name once and points at it, or at its longest suffix, afterwards', () => {
    const { bytes, starts } = written(['web.shop.svc.clusterset.local', 'web.shop.svc.clusterset.local', 'ns.dns.clusterset.local', 'hostmaster.clusterset.local']);
    expect(readName(bytes, starts[0]!)).toEqual({ name: 'web.shop.svc.clusterset.local', length: 31 });
    expect(readName(bytes, starts[1]!)).toEqual({ name: 'web.shop.svc.clusterset.local', length: 2 }); // one pointer
    expect(readName(bytes, starts[2]!)).toEqual({ name: 'ns.dns.clusterset.local', length: 3 + 4 + 2 }); // "ns", "dns", pointer
    expect(readName(bytes, starts[3]!)).toEqual({ name: 'hostmaster.clusterset.local', length: 11 + 2 });
    expect(bytes.length).toBe(31 + 2 + 9 + 13);
  });

  it('matches suffixes whatever their case, and writes the labels it writes in the case given', () => {
    const { bytes, starts } = written(['A.Example.ORG', 'b.example.org', 'C.EXAMPLE.org']);
    expect(readName(bytes, starts[0]!).name).toBe('A.Example.ORG');
    expect(readName(bytes, starts[1]!)).toEqual({ name: 'b.Example.ORG', length: 2 + 2 });
    expect(readName(bytes, starts[2]!)).toEqual({ name: 'C.Example.ORG', length: 2 + 2 });
  });

  it('skips empty labels and compresses such names like the same name without them', () => {
    const { bytes, starts } = written(['a.b.example', '.x..b.example.', 'a.b.example.']);
    expect(readName(bytes, starts[1]!)).toEqual({ name: 'x.b.example', length: 2 + 2 });
    expect(readName(bytes, starts[2]!)).toEqual({ name: 'a.b.example', length: 2 });
    expect(written(['', '.']).bytes).toEqual(Buffer.from([0, 0])); // the root
  });

  it('a name whose lowercase form is longer (non-ASCII) is still written label by label', () => {
    // 'İ'.toLowerCase() is two code units: offsets into the lowercase text would cut the labels wrong.
    const { bytes, starts } = written(['a.example', 'İ.example']);
    expect(bytes.subarray(starts[1]!, starts[1]! + 2)).toEqual(Buffer.from([1, 0x30])); // one byte per code unit, as for any label
    expect(readName(bytes, starts[1]!).length).toBe(2 + 2); // then a pointer to "example"
  });

  it('refuses a label over 63 octets and a name over 255, with the name in the error', () => {
    expect(() => written([`${'x'.repeat(64)}.example`])).toThrow(/label "x{64}" is 64 octets/);
    const long = Array.from({ length: 5 }, () => 'y'.repeat(60)).join('.'); // 5 × 61 + 1 octets
    expect(() => written([long])).toThrow(/encodes to 306 octets \(max 255\)/);
    expect(() => written([`..${long}`])).toThrow(/encodes to 306 octets/);
    // After an error the next message is written whole (the shared buffer was given back clean).
    expect(readName(written(['ok.example']).bytes, 0).name).toBe('ok.example');
  });

  it('messages written one after another do not share names or bytes', () => {
    const first = written(['one.example']);
    const second = written(['two.example', 'one.example']);
    expect(readName(second.bytes, second.starts[1]!)).toEqual({ name: 'one.example', length: 4 + 2 });
    expect(readName(first.bytes, 0).name).toBe('one.example');
  });
});
