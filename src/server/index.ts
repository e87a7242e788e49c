/** The server room's public entry: DNS over UDP/TCP (in-process or worker processes) and HTTP. */
export { createDnsServer } from './dns-server.ts';
export { createHttpServer, notReadyReason } from './http-server.ts';
export type { HttpServer, HttpServerOptions } from './http-server.ts';
export type { DnsServer, DnsServerOptions, ServerDeps } from './api.ts';
