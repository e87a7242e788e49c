/**
 * Idempotent install and removal of our stub block in a Corefile, plus the read-only questions
 * `doctor` asks ("where does this Corefile send the zone?"). Pure: text in, text out.
 *
 * Guarantees: every byte outside our marker region is kept; installing twice changes nothing the
 * second time; install refuses (CorefileConflictError) when anything outside our region already
 * routes the zone on the same port, because CoreDNS would either refuse to start (two blocks for
 * one zone and port) or quietly stop using the admin's route.
 */
import { blankRegions, findManagedRegions, type ManagedRegion } from './markers.ts';
import { normalizeZone, parseCorefile, type CorefileOutline, type Directive, type ServerBlock } from './outline.ts';
import { renderManagedRegion } from './stub-block.ts';

export type StubFlavor = 'coredns' | 'nodelocal';

export interface InstallOptions {
  /** Zone to route, e.g. `clusterset.local`. */
  zone: string;
  /** `forward` targets (see renderStubBlock). */
  upstreams: readonly string[];
  /** `nodelocal` copies `bind` and `force_tcp` from the block serving the cluster domain. Default `coredns`. */
  flavor?: StubFlavor;
  /** The cluster's own domain, to find NodeLocal's block for it. Default `cluster.local`. */
  clusterDomain?: string;
}

export interface EditResult {
  text: string;
  changed: boolean;
  /** The port of the stub block (the port the Corefile serves plain DNS on). */
  port: number;
  /** Things the caller should tell the user (e.g. imports this function cannot look into). */
  notes: string[];
}

/** Something outside our region that already routes the zone. */
export interface ZoneRoute {
  line: number;
  /** The source line, trimmed. */
  text: string;
  why: string;
}

export class CorefileConflictError extends Error {
  readonly zone: string;
  readonly routes: readonly ZoneRoute[];
  constructor(zone: string, routes: readonly ZoneRoute[]) {
    super(
      `the Corefile already routes ${zone} elsewhere; refusing to add a second route:\n` +
        routes.map((r) => `  line ${r.line}: ${r.text}   (${r.why})`).join('\n') +
        `\nRemove or change those lines first, or keep that setup and do not install the clusterset-dns stub.`,
    );
    this.name = 'CorefileConflictError';
    this.zone = zone;
    this.routes = routes;
  }
}

function detectEol(text: string): '\n' | '\r\n' {
  const crlf = text.split('\r\n').length - 1;
  const lf = text.split('\n').length - 1;
  return crlf > 0 && crlf * 2 >= lf ? '\r\n' : '\n';
}

export function inZone(name: string, zone: string): boolean {
  const n = normalizeZone(name);
  return n === zone || n.endsWith(`.${zone}`);
}

/** The port the Corefile serves plain DNS on: that of the root block, else of the first key, else 53. */
export function servingPort(outline: CorefileOutline): number {
  const keys = outline.blocks.filter((b) => b.kind === 'server').flatMap((b) => b.keys).filter((k) => k.scheme === 'dns' && k.port !== undefined);
  return keys.find((k) => k.zone === '.')?.port ?? keys[0]?.port ?? 53;
}

function servesPort(block: ServerBlock, port: number): boolean {
  return block.keys.some((k) => k.scheme === 'dns' && (k.port === port || k.port === undefined));
}

function walk(directives: readonly Directive[], visit: (d: Directive) => void): void {
  for (const d of directives) {
    visit(d);
    walk(d.body, visit);
  }
}

function sourceLine(text: string, line: number): string {
  return (text.split('\n')[line - 1] ?? '').trim();
}

function blockLabel(block: ServerBlock): string {
  return block.kind === 'snippet' ? 'a snippet' : `server block ${block.keys.map((k) => k.raw).join(' ')}`;
}

/**
 * Every place in `text` (already parsed as `outline`) that routes `zone` or a name below it on
 * `port`: server block keys for the zone, and plugin arguments naming it (for example
 * `kubernetes cluster.local clusterset.local` or `multicluster clusterset.local`).
 */
export function findZoneRoutes(text: string, outline: CorefileOutline, zone: string, port: number): ZoneRoute[] {
  const routes: ZoneRoute[] = [];
  for (const block of outline.blocks) {
    // Snippets are imported somewhere we cannot tell; judge them as if they served this port.
    if (block.kind === 'server' && !servesPort(block, port)) continue;
    const forZone = block.keys.filter((k) => k.scheme === 'dns' && (k.port === port || k.port === undefined) && inZone(k.zone, zone));
    if (forZone.length > 0) {
      routes.push({ line: block.line, text: sourceLine(text, block.line), why: `a server block for ${forZone.map((k) => k.zone).join(', ')} on port ${port}` });
    }
    walk(block.directives, (d) => {
      const named = d.args.filter((a) => inZone(a, zone));
      if (named.length > 0) {
        routes.push({ line: d.line, text: sourceLine(text, d.line), why: `the ${d.name} plugin is given ${named.join(', ')} in ${blockLabel(block)}` });
      }
    });
  }
  return routes.sort((a, b) => a.line - b.line);
}

interface Prepared {
  regions: ManagedRegion[];
  outline: CorefileOutline;
  blanked: string;
}

/** Parses the parts of `text` outside our regions (throws CorefileSyntaxError when they do not parse). */
function prepare(text: string): Prepared {
  const regions = findManagedRegions(text);
  const blanked = blankRegions(text, regions);
  return { regions, outline: parseCorefile(blanked), blanked };
}

function importNotes(outline: CorefileOutline): string[] {
  return outline.imports.map((i) => `line ${i.line}: "import ${i.args.join(' ')}" is not checked; make sure the imported files do not serve the zone`);
}

/** Block (by zone) that NodeLocal DNS uses for the cluster domain, else its root block. */
function nodeLocalTemplate(outline: CorefileOutline, clusterDomain: string, port: number): { bind: string[]; forceTcp: boolean } {
  const servers = outline.blocks.filter((b) => b.kind === 'server' && servesPort(b, port));
  const template = servers.find((b) => b.keys.some((k) => k.zone === clusterDomain)) ?? servers.find((b) => b.keys.some((k) => k.zone === '.'));
  if (template === undefined) return { bind: [], forceTcp: false };
  const bind = template.directives.filter((d) => d.name === 'bind').flatMap((d) => d.args);
  const forceTcp = template.directives.some((d) => d.name === 'forward' && d.body.some((o) => o.name === 'force_tcp'));
  return { bind, forceTcp };
}

/** Adds (or updates) our stub block for `options.zone`; see the module comment for the guarantees. */
export function installStub(text: string, options: InstallOptions): EditResult {
  const zone = normalizeZone(options.zone);
  const { regions, outline, blanked } = prepare(text);
  const port = servingPort(outline);
  const routes = findZoneRoutes(blanked, outline, zone, port);
  if (routes.length > 0) throw new CorefileConflictError(zone, routes);

  const template = (options.flavor ?? 'coredns') === 'nodelocal'
    ? nodeLocalTemplate(outline, normalizeZone(options.clusterDomain ?? 'cluster.local'), port)
    : { bind: [], forceTcp: false };
  const eol = detectEol(text);
  const region = renderManagedRegion({ zone, port, upstreams: options.upstreams, bind: template.bind, forceTcp: template.forceTcp, eol });

  const existing = regions.find((r) => r.zone === zone);
  let next: string;
  if (existing !== undefined) {
    next = text.slice(0, existing.start) + region + text.slice(existing.end);
  } else {
    const separator = text === '' || text.endsWith('\n') ? '' : eol;
    next = text + separator + region;
  }
  return { text: next, changed: next !== text, port, notes: importNotes(outline) };
}

/** Removes our stub block for `zone` (nothing else); unchanged when there is none. */
export function uninstallStub(text: string, zoneName: string): EditResult {
  const zone = normalizeZone(zoneName);
  const regions = findManagedRegions(text);
  const existing = regions.find((r) => r.zone === zone);
  const next = existing === undefined ? text : text.slice(0, existing.start) + text.slice(existing.end);
  const outline = parseCorefile(blankRegions(next, findManagedRegions(next)));
  return { text: next, changed: next !== text, port: servingPort(outline), notes: [] };
}

/** Where a Corefile sends a zone: what `doctor` reports. */
export interface ZoneRouting {
  zone: string;
  port: number;
  /** True when our managed block for the zone is present. */
  managed: boolean;
  /** `forward` targets of the server block for the zone (empty when no block serves it). */
  upstreams: string[];
  /** Line of the server block serving the zone, if any. */
  line: number | undefined;
  /** `force_tcp` in that block's forward. */
  forceTcp: boolean;
  /** Other routes of the zone outside our block (conflicts). */
  others: ZoneRoute[];
}

/** Reads how `text` routes `zone`; throws CorefileSyntaxError when the Corefile does not parse. */
export function zoneRouting(text: string, zoneName: string): ZoneRouting {
  const zone = normalizeZone(zoneName);
  const regions = findManagedRegions(text);
  const outline = parseCorefile(text);
  const port = servingPort(parseCorefile(blankRegions(text, regions)));
  const block = outline.blocks.find((b) => b.kind === 'server' && b.keys.some((k) => k.scheme === 'dns' && k.port === port && k.zone === zone));
  const forward = block?.directives.find((d) => d.name === 'forward' && (d.args[0] === '.' || inZone(d.args[0] ?? '', zone)));
  const blanked = blankRegions(text, regions);
  return {
    zone,
    port,
    managed: regions.some((r) => r.zone === zone),
    upstreams: forward?.args.slice(1) ?? [],
    line: block?.line,
    forceTcp: forward?.body.some((o) => o.name === 'force_tcp') ?? false,
    others: findZoneRoutes(blanked, parseCorefile(blanked), zone, port),
  };
}
