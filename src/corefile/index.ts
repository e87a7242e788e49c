/**
 * Corefile editing for `clusterset-dns coredns install|uninstall` and the Corefile checks of
 * `doctor`. Pure text-in/text-out code: no IO, no Kubernetes.
 */
export { CorefileSyntaxError, tokenize, type Token } from './lexer.ts';
export {
  normalizeZone,
  parseCorefile,
  parseServerKey,
  type CorefileOutline,
  type Directive,
  type ImportStatement,
  type ServerBlock,
  type ServerKey,
} from './outline.ts';
export { beginMarker, endMarker, findManagedRegions, type ManagedRegion } from './markers.ts';
export { forwardTarget, renderManagedRegion, renderStubBlock, type StubBlockOptions } from './stub-block.ts';
export {
  CorefileConflictError,
  findZoneRoutes,
  inZone,
  installStub,
  servingPort,
  uninstallStub,
  zoneRouting,
  type EditResult,
  type InstallOptions,
  type StubFlavor,
  type ZoneRoute,
  type ZoneRouting,
} from './edit.ts';
