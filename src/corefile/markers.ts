/**
 * The region of a Corefile that `clusterset-dns coredns install` owns: one per zone, between a
 * BEGIN and an END comment line. Everything outside these regions belongs to the cluster's admin
 * and is never changed.
 */
import { CorefileSyntaxError } from './lexer.ts';

const MARKER_PRODUCT = 'clusterset-dns';

export function beginMarker(zone: string): string {
  return `# BEGIN ${MARKER_PRODUCT} zone ${zone}: managed by "clusterset-dns coredns install"; edits between these markers are replaced`;
}

export function endMarker(zone: string): string {
  return `# END ${MARKER_PRODUCT} zone ${zone}`;
}

const MARKER_LINE = /^[ \t]*#[ \t]*(BEGIN|END)[ \t]+clusterset-dns\b(?:[ \t]+zone[ \t]+([^\s:]+))?/;

export interface ManagedRegion {
  zone: string;
  /** Offset of the BEGIN line's first character. */
  start: number;
  /** Offset just after the END line's line break (or the end of the text). */
  end: number;
  /** 1-based line numbers of the two markers. */
  beginLine: number;
  endLine: number;
}

interface Line {
  text: string;
  start: number;
  /** After the line break. */
  next: number;
  number: number;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  let number = 1;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const next = nl === -1 ? text.length : nl + 1;
    lines.push({ text: text.slice(start, nl === -1 ? text.length : nl).replace(/\r$/, ''), start, next, number });
    start = next;
    number++;
  }
  return lines;
}

/**
 * Every managed region, in file order. Throws CorefileSyntaxError when the markers do not pair up
 * (a BEGIN without END, an END without BEGIN, nesting, or two regions for one zone): editing a
 * file whose markers were damaged by hand could otherwise delete the admin's own lines.
 */
export function findManagedRegions(text: string): ManagedRegion[] {
  const regions: ManagedRegion[] = [];
  let open: { zone: string; start: number; line: number } | undefined;
  for (const line of splitLines(text)) {
    const m = MARKER_LINE.exec(line.text);
    if (!m) continue;
    const zone = (m[2] ?? '').toLowerCase();
    if (zone === '') throw new CorefileSyntaxError(line.number, `a ${MARKER_PRODUCT} ${m[1]} marker names no zone; restore it to "${m[1] === 'BEGIN' ? beginMarker('<zone>') : endMarker('<zone>')}"`);
    if (m[1] === 'BEGIN') {
      if (open !== undefined) {
        throw new CorefileSyntaxError(line.number, `BEGIN marker for zone ${zone} inside the managed block for zone ${open.zone} (opened at line ${open.line}), which has no END marker`);
      }
      if (regions.some((r) => r.zone === zone)) {
        throw new CorefileSyntaxError(line.number, `a second managed block for zone ${zone}; remove one of them`);
      }
      open = { zone, start: line.start, line: line.number };
    } else {
      if (open === undefined) throw new CorefileSyntaxError(line.number, `END marker for zone ${zone} without a BEGIN marker`);
      if (open.zone !== zone) {
        throw new CorefileSyntaxError(line.number, `END marker for zone ${zone} closes the managed block for zone ${open.zone} (opened at line ${open.line})`);
      }
      regions.push({ zone, start: open.start, end: line.next, beginLine: open.line, endLine: line.number });
      open = undefined;
    }
  }
  if (open !== undefined) {
    throw new CorefileSyntaxError(open.line, `the managed block for zone ${open.zone} has no END marker ("${endMarker(open.zone)}")`);
  }
  return regions;
}

/** `text` with the given regions replaced by spaces (line breaks kept, so line numbers stay right). */
export function blankRegions(text: string, regions: readonly ManagedRegion[]): string {
  let out = '';
  let at = 0;
  for (const r of regions) {
    out += text.slice(at, r.start) + text.slice(r.start, r.end).replace(/[^\n]/g, ' ');
    at = r.end;
  }
  return out + text.slice(at);
}
