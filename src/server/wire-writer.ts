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
/**
 * Every message is written into this one buffer first (encoding is synchronous, so one per thread
 * is enough) and copied out by toBuffer: a cache miss then allocates only its result, not a 2 KiB
 * working buffer too (issue 9: a flood of junk names is all misses).
 */
const SCRATCH_BYTES = 16 * 1024;
let scratch: Buffer | null = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
const EMPTY = Buffer.alloc(0);

export class WireWriter {
  private buffer: Buffer;
  private length = 0;
  /** Lowercased dotted suffix → offset where it was written. */
  private readonly names = new Map<string, number>();

  /** True while this writer holds the shared scratch buffer (given back by release). */
  private holdsScratch: boolean;

  constructor() {
    // Taken, not shared: a second writer alive at once (none is today) gets its own buffer.
    const shared = scratch;
    scratch = null;
    this.holdsScratch = shared !== null;
    this.buffer = shared ?? Buffer.allocUnsafeSlow(SCRATCH_BYTES);
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
    if (this.holdsScratch) scratch = this.buffer; // the grown one is this message's alone
    this.holdsScratch = false;
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

  /** Bytes given as a latin1 string (one char per byte, as QueryParser's nameKey holds them). */
  latin1(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.buffer[this.length++] = text.charCodeAt(i) & 0xff;
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
    // Empty labels (leading, trailing or doubled dots) are skipped: the suffixes are then not
    // substrings of the text, so such names take the label-list path; so do names whose
    // lowercase form has another length (non-ASCII), since offsets into one index the other.
    const lower = dotted.toLowerCase();
    if (lower.length !== dotted.length || lower.length === 0 || lower.charCodeAt(0) === 0x2e || lower.charCodeAt(lower.length - 1) === 0x2e || lower.includes('..')) {
      this.nameFromLabels(dotted);
      return;
    }
    if (lower.length + 2 > MAX_NAME) throw new Error(`name encode: "${dotted}" encodes to ${lower.length + 2} octets (max ${MAX_NAME})`);
    let start = 0;
    while (start < lower.length) {
      let end = lower.indexOf('.', start);
      if (end < 0) end = lower.length;
      if (end - start > MAX_LABEL) throw new Error(`name encode: label "${dotted.slice(start, end)}" is ${end - start} octets (max ${MAX_LABEL})`);
      start = end + 1;
    }
    start = 0;
    while (start < lower.length) {
      const suffix = start === 0 ? lower : lower.substring(start);
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < POINTER_LIMIT) this.names.set(suffix, this.length);
      let end = lower.indexOf('.', start);
      if (end < 0) end = lower.length;
      this.reserve(end - start + 1);
      this.buffer[this.length++] = end - start;
      for (let j = start; j < end; j++) this.buffer[this.length++] = dotted.charCodeAt(j) & 0xff;
      start = end + 1;
    }
    this.u8(0);
  }

  /** name() for text with empty labels: the labels that are there, compressed the same way. */
  private nameFromLabels(dotted: string): void {
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
   * The bytes written so far, in a buffer of exactly that length. By default one of its own: it is
   * cached for the life of a snapshot, and a slice of Buffer's shared pool would pin the pool's
   * whole 8 KiB slab (shared with short-lived per-query replies) for that long. `pooled`: from the
   * shared pool, for a reply that is sent and dropped.
   */
  toBuffer(pooled = false): Buffer {
    const out = pooled ? Buffer.allocUnsafe(this.length) : Buffer.allocUnsafeSlow(this.length);
    this.buffer.copy(out, 0, 0, this.length);
    return out;
  }

  /** Gives the shared scratch buffer back (call once, also when encoding failed); the writer is done. */
  release(): void {
    if (!this.holdsScratch) return;
    scratch = this.buffer;
    this.holdsScratch = false;
    this.buffer = EMPTY;
  }
}
