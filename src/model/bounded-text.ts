/**
 * Pure: a JSON-like preview of an untrusted value that never costs more than its budget. A YAML
 * file can hold an alias bomb (each level nine references to the one below): the value is small
 * in memory but billions of nodes when walked, so JSON.stringify on it runs for minutes and then
 * throws `RangeError: Invalid string length`. This walk stops as soon as `maxChars` are written.
 */

const MAX_DEPTH = 32;

export function previewValue(value: unknown, maxChars = 60): string {
  let out = '';
  let full = false;
  const write = (text: string): boolean => {
    if (full) return false;
    if (out.length + text.length > maxChars) {
      out += text.slice(0, Math.max(0, maxChars - out.length));
      full = true;
      return false;
    }
    out += text;
    return true;
  };
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || v === undefined) return write(v === null ? 'null' : 'undefined');
    if (typeof v === 'string') return write(JSON.stringify(v.length > maxChars ? v.slice(0, maxChars + 1) : v));
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return write(String(v));
    if (v instanceof Date) return write(Number.isNaN(v.getTime()) ? '"Invalid Date"' : JSON.stringify(v.toISOString()));
    if (typeof v !== 'object') return write(`<${typeof v}>`);
    if (depth >= MAX_DEPTH) return write('…');
    if (Array.isArray(v)) {
      if (!write('[')) return false;
      for (let i = 0; i < v.length; i++) {
        if (i > 0 && !write(',')) return false;
        if (!walk(v[i], depth + 1)) return false;
      }
      return write(']');
    }
    if (!write('{')) return false;
    let first = true;
    for (const key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
      if (!first && !write(',')) return false;
      first = false;
      if (!write(`${JSON.stringify(key.length > maxChars ? key.slice(0, maxChars) : key)}:`)) return false;
      if (!walk((v as Record<string, unknown>)[key], depth + 1)) return false;
    }
    return write('}');
  };
  walk(value, 0);
  return full ? `${out.slice(0, Math.max(0, maxChars - 3))}...` : out;
}

/** `text` cut to `maxChars`, marked with `...` when cut. */
export function clipText(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(0, maxChars - 3))}...`;
}
