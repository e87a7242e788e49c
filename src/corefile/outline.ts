/**
 * Just enough of a Corefile's structure to edit it safely: its server blocks (with the zones and
 * ports their keys route), each block's directives (with nested blocks), snippets and top-level
 * imports. Not a validator: CoreDNS itself judges the plugins' arguments.
 */
import { CorefileSyntaxError, tokenize, type Token } from './lexer.ts';

/** One key of a server block, e.g. `cluster.local:53`, `.:53`, `tls://example.org`. */
export interface ServerKey {
  raw: string;
  /** `dns`, `tls`, `grpc`, `https`, `quic`, ... (lowercase). */
  scheme: string;
  /** Lowercase, without trailing dot; `.` for the root zone. */
  zone: string;
  /** Undefined when it cannot be known here (an environment placeholder such as `{$PORT}`). */
  port: number | undefined;
}

export interface Directive {
  name: string;
  /** Arguments on the directive's own line(s), excluding a nested block. */
  args: string[];
  line: number;
  /** Directives of the nested `{ ... }` block, if any (e.g. `force_tcp` inside `forward`). */
  body: Directive[];
}

export interface ServerBlock {
  kind: 'server' | 'snippet';
  keys: ServerKey[];
  directives: Directive[];
  /** Line of the first key. */
  line: number;
  /** Byte offsets of the first key and just after the closing `}`. */
  start: number;
  end: number;
}

export interface ImportStatement {
  line: number;
  args: string[];
}

export interface CorefileOutline {
  blocks: ServerBlock[];
  imports: ImportStatement[];
}

/** CoreDNS's default port per transport when a key names none. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = { dns: 53, tls: 853, quic: 853, grpc: 443, https: 443, https3: 443 };

export function normalizeZone(zone: string): string {
  const lower = zone.toLowerCase();
  if (lower === '' || lower === '.') return '.';
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export function parseServerKey(raw: string): ServerKey {
  let rest = raw;
  let scheme = 'dns';
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(raw);
  if (schemeMatch) {
    scheme = schemeMatch[1]!.toLowerCase();
    rest = schemeMatch[2]!;
  }
  let port: number | undefined = DEFAULT_PORTS[scheme] ?? 53;
  const portMatch = /^(.*):([^:]*)$/.exec(rest);
  // A ':' in a bare IPv6 reverse-zone CIDR (fd00::/8) is not a port separator: only split when
  // what follows the last ':' is a number or a placeholder.
  if (portMatch && (/^\d+$/.test(portMatch[2]!) || portMatch[2]!.startsWith('{$'))) {
    rest = portMatch[1]!;
    port = /^\d+$/.test(portMatch[2]!) ? Number(portMatch[2]) : undefined;
  }
  return { raw, scheme, zone: normalizeZone(rest), port };
}

/** Parses `text`; throws CorefileSyntaxError when braces or quotes do not balance. */
export function parseCorefile(text: string): CorefileOutline {
  return new OutlineParser(tokenize(text)).parse();
}

class OutlineParser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parse(): CorefileOutline {
    const blocks: ServerBlock[] = [];
    const imports: ImportStatement[] = [];
    while (this.pos < this.tokens.length) {
      const first = this.tokens[this.pos]!;
      if (!first.quoted && first.text === 'import') {
        this.pos++;
        imports.push({ line: first.line, args: this.restOfLine().map((t) => t.text) });
        continue;
      }
      blocks.push(this.serverBlock());
    }
    return { blocks, imports };
  }

  /** True when the token at `index` starts a new line (CoreDNS ends keys and directives at line ends). */
  private startsLine(index: number): boolean {
    const previous = this.tokens[index - 1];
    const token = this.tokens[index];
    return previous === undefined || token === undefined || token.line > previous.endLine;
  }

  private isBrace(token: Token | undefined, brace: '{' | '}'): boolean {
    return token !== undefined && !token.quoted && token.text === brace;
  }

  private restOfLine(): Token[] {
    const out: Token[] = [];
    while (this.pos < this.tokens.length && !this.startsLine(this.pos)) out.push(this.tokens[this.pos++]!);
    return out;
  }

  private serverBlock(): ServerBlock {
    const first = this.tokens[this.pos]!;
    const keys: string[] = [];
    let expectingAnother = false;
    for (;;) {
      const token = this.tokens[this.pos]!;
      if (this.isBrace(token, '{')) {
        if (expectingAnother) throw new CorefileSyntaxError(token.line, 'a server block key ends with "," but no key follows');
        break;
      }
      if (this.isBrace(token, '}')) throw new CorefileSyntaxError(token.line, 'unexpected "}" (no block is open)');
      let key = token.text;
      expectingAnother = key.endsWith(',');
      if (expectingAnother) key = key.slice(0, -1);
      if (key !== '') keys.push(key);
      this.pos++;
      if (this.pos >= this.tokens.length) {
        if (expectingAnother) throw new CorefileSyntaxError(token.line, 'the file ends after a "," in server block keys');
        break;
      }
      if (!expectingAnother && this.startsLine(this.pos)) break;
    }
    const isSnippet = keys.length === 1 && /^\(.+\)$/.test(keys[0]!);
    let directives: Directive[];
    let end: number;
    if (this.isBrace(this.tokens[this.pos], '{')) {
      this.pos++;
      const body = this.directives(first.line, true);
      directives = body.directives;
      end = body.end;
    } else {
      // CoreDNS allows a single server block without braces: it runs to the end of the file.
      const body = this.directives(first.line, false);
      directives = body.directives;
      end = body.end === -1 ? (this.tokens[this.pos - 1]?.end ?? first.end) : body.end;
    }
    return {
      kind: isSnippet ? 'snippet' : 'server',
      keys: isSnippet ? [] : keys.map(parseServerKey),
      directives,
      line: first.line,
      start: first.start,
      end,
    };
  }

  /**
   * Directives until the `}` that closes the current block (consumed; `end` is its end offset), or
   * until the end of the file when `closed` is false (`end` -1).
   */
  private directives(openedAt: number, closed: boolean): { directives: Directive[]; end: number } {
    const out: Directive[] = [];
    while (this.pos < this.tokens.length) {
      const token = this.tokens[this.pos]!;
      if (this.isBrace(token, '}')) {
        if (!closed) throw new CorefileSyntaxError(token.line, 'unexpected "}" (no block is open)');
        this.pos++;
        return { directives: out, end: token.end };
      }
      out.push(this.directive());
    }
    if (closed) throw new CorefileSyntaxError(openedAt, 'the block opened here is never closed with "}"');
    return { directives: out, end: -1 };
  }

  private directive(): Directive {
    const nameToken = this.tokens[this.pos++]!;
    const args: string[] = [];
    let body: Directive[] = [];
    while (this.pos < this.tokens.length && !this.startsLine(this.pos)) {
      const token = this.tokens[this.pos]!;
      if (this.isBrace(token, '}')) break; // closes the enclosing block (`{ force_tcp }` on one line)
      if (this.isBrace(token, '{')) {
        this.pos++;
        body = this.directives(token.line, true).directives;
        continue;
      }
      args.push(token.text);
      this.pos++;
    }
    return { name: nameToken.text, args, line: nameToken.line, body };
  }
}
