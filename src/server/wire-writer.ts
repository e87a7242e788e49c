/**
 * A growable byte writer for DNS messages with RFC 1035 §4.1.4 name compression. It replaces
 * dns2's bit-level Writer on the encoding path, where a capped 4,000-record answer took 50-75 ms
 * per rotation variant. Writing itself is now a small part of a record's cost (parsing its address
 * is most of it, done once per cached answer: see response-encoder.ts).
 *
 * Names are dotted text (as ResourceRecord holds them); empty labels are skipped, suffixes are
 * matched case-insensitively, and pointers only reach the first 16 KiB (14-bit offsets).
 */

const MAX_LABEL = 63;
const MAX_NAME = 255;
const POINTER_LIMIT = 0x4000;

export class WireWriter {
  private buffer: Buffer;
  private length = 0;
  /** Lowercased dotted suffix → offset where it was written. */
  private readonly names = new Map<string, number>();

  constructor(initialSize = 512) {
    // Not from Buffer's shared pool: a pooled slice would pin its 8 KiB slab for as long as any
    // neighbour lives, and cached answers live long (see toBuffer).
    this.buffer = Buffer.allocUnsafeSlow(initialSize);
  }

  get offset(): number {
    return this.length;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
  }

  u16(value: number): void {
    this.reserve(2);
    this.buffer.writeUInt16BE(value & 0xffff, this.length);
    this.length += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32BE(value >>> 0, this.length);
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  /** Overwrites a 16-bit value written earlier (RDLENGTH). */
  patchU16(at: number, value: number): void {
    this.buffer.writeUInt16BE(value & 0xffff, at);
  }

  /** Lets later names point at a suffix that was written at `offset` by other means. */
  registerName(suffix: string, offset: number): void {
    if (offset < POINTER_LIMIT && !this.names.has(suffix)) this.names.set(suffix, offset);
  }

  /** Writes a dotted name, pointing at the longest suffix already in the message. */
  name(dotted: string): void {
    // Fast path: the whole name is already in the message (owner names repeat the question, SRV
    // owners and Additional owners repeat their targets). Record names are lowercase already.
    const whole = this.names.get(dotted);
    if (whole !== undefined) {
      this.u16(0xc000 | whole);
      return;
    }
    const labels = dotted.split('.').filter((label) => label !== '');
    let total = 1;
    for (const label of labels) {
      if (label.length > MAX_LABEL) throw new Error(`name encode: label "${label}" is ${label.length} octets (max ${MAX_LABEL})`);
      total += label.length + 1;
    }
    if (total > MAX_NAME) throw new Error(`name encode: "${dotted}" encodes to ${total} octets (max ${MAX_NAME})`);
    const lower = labels.map((label) => label.toLowerCase());
    for (let i = 0; i < labels.length; i++) {
      const suffix = lower.slice(i).join('.');
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < POINTER_LIMIT) this.names.set(suffix, this.length);
      const label = labels[i]!;
      this.reserve(label.length + 1);
      this.buffer[this.length++] = label.length;
      for (let j = 0; j < label.length; j++) this.buffer[this.length++] = label.charCodeAt(j) & 0xff;
    }
    this.u8(0);
  }

  /**
   * The bytes written so far, in a buffer of exactly that length and of its own: it is cached for
   * the life of a snapshot, and a slice of Buffer's shared pool would pin the pool's whole 8 KiB
   * slab (shared with short-lived per-query replies) for that long.
   */
  toBuffer(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.length);
    this.buffer.copy(out, 0, 0, this.length);
    return out;
  }
}
