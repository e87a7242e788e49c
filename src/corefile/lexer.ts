/**
 * Splits a Corefile into tokens the way CoreDNS's Caddyfile lexer does, keeping each token's line
 * and byte offsets so edits can leave every other byte of the file alone.
 *
 * Rules (from the Caddyfile format CoreDNS uses): tokens are separated by white space; `#` outside
 * quotes starts a comment that runs to the end of the line (even in the middle of a word); a token
 * that starts with `"` runs to the next unescaped `"` and may span lines; `{` and `}` are ordinary
 * tokens, meaningful only when they stand alone.
 */

export interface Token {
  /** The token's value (quotes removed, `\"` unescaped). */
  text: string;
  /** 1-based line of the token's first character. */
  line: number;
  /** Offset of the first character (the opening quote for quoted tokens). */
  start: number;
  /** Offset just after the last character. */
  end: number;
  /** 1-based line of the token's last character (differs from `line` for quoted multi-line tokens). */
  endLine: number;
  quoted: boolean;
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') {
      line++;
      i++;
      continue;
    }
    if (isSpace(ch)) {
      i++;
      continue;
    }
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const start = i;
    const startLine = line;
    if (ch === '"') {
      let value = '';
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '\\' && text[i + 1] === '"') {
          value += '"';
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\n') line++;
        value += c;
        i++;
      }
      if (!closed) throw new CorefileSyntaxError(startLine, 'a quoted string is not closed');
      tokens.push({ text: value, line: startLine, start, end: i, endLine: line, quoted: true });
      continue;
    }
    while (i < text.length && !isSpace(text[i]!) && text[i] !== '#') i++;
    tokens.push({ text: text.slice(start, i), line: startLine, start, end: i, endLine: startLine, quoted: false });
  }
  return tokens;
}

/** The Corefile is not valid enough to edit safely; `line` is 1-based. */
export class CorefileSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`Corefile line ${line}: ${message}`);
    this.name = 'CorefileSyntaxError';
    this.line = line;
  }
}
