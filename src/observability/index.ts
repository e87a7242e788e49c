export { createLogger, resolveLogFormat } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createMetrics, informerRestartCounter } from './metrics.ts';
export type { Metrics, MetricsJson, RemoteMetricsSource, CreateMetricsOptions } from './metrics.ts';
export { QueryStats } from './query-stats.ts';
export type { MalformedReason, Transport } from './query-stats.ts';
export { registerBuildInfo } from './build-info.ts';
export { createEmbeddedMetrics } from './embedded-metrics.ts';
export type { EmbeddedMetrics } from './embedded-metrics.ts';
