/**
 * The HTTP routes of the status view: `/status` (the report as JSON, `?namespace=&service=`
 * filters) and `/` (the status page that draws it). Served by `serve` next to /metrics.
 */
import type { HttpRouteResult } from '../server/http-server.ts';
import type { StatusFilter, StatusReport } from '../model/status-report.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

export function statusRoutes(report: (filter: StatusFilter) => StatusReport | undefined): Map<string, (url: URL) => HttpRouteResult> {
  const routes = new Map<string, (url: URL) => HttpRouteResult>();
  routes.set('/status', (url) => {
    const filter: StatusFilter = {};
    const namespace = url.searchParams.get('namespace');
    const service = url.searchParams.get('service');
    if (namespace !== null && namespace !== '') filter.namespace = namespace;
    if (service !== null && service !== '') filter.service = service;
    const r = report(filter);
    if (r === undefined) return { status: 503, contentType: 'application/json; charset=utf-8', body: '{"error":"no state loaded yet"}\n' };
    return { status: 200, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(r, null, 2)}\n` };
  });
  routes.set('/', () => ({ status: 200, contentType: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML }));
  return routes;
}
