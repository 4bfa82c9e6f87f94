/**
 * The gateway's Prometheus metrics, one `Metrics` per app (its own `Registry`, no global
 * singleton), and the `GET /metrics` route that exposes them.
 *
 * Every label comes from a small fixed set: the route pattern (never the raw URL), the GraphQL
 * root field when it is one of the schema's, the status class or error code, the store
 * operation. Nothing is ever labelled by session ID, token or client-chosen text, so the number
 * of series stays bounded whatever clients send.
 *
 * Recording is on the request path, so it is kept to one `observe`/`inc` per event with
 * pre-bound label sets where the set is known up front.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { CHANGE_STREAM_END_REASONS, type ChangeStreamEndReason } from './graphql/change-stream';
import type { SessionCacheStats } from './sessions/session-cache';
import type { StoreOperation } from './store/store';

/** Seconds; few buckets, from a Redis-hit request to one stuck on a timeout. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100];
const STORE_OPERATIONS: readonly StoreOperation[] = ['create', 'getMany', 'readAttribute', 'touch', 'update', 'destroy', 'ping'];

type Observer = { observe(value: number): void };
type Incrementer = { inc(value?: number): void };

/** What the GraphQL resolvers and the REST shim count: the session events that succeeded. */
export interface SessionEvents {
  sessionIssued(): void;
  sessionUpdated(): void;
  sessionRevoked(): void;
}

export class Metrics implements SessionEvents {
  readonly registry = new Registry();
  private readonly requestSeconds: BoundHistogram;
  /** route → operation → outcome → the bound histogram: no label hashing per request. */
  private readonly requestSeries = new Map<string, Map<string, Map<string, Observer>>>();
  private readonly storeSeconds: ReadonlyMap<StoreOperation, Observer>;
  private readonly storeErrors: ReadonlyMap<StoreOperation, Incrementer>;
  private readonly issued: Counter;
  private readonly updated: Counter;
  private readonly revoked: Counter;
  private readonly batchSize: Histogram;
  private readonly changesDelivered: Counter;
  private readonly streamsEnded: ReadonlyMap<ChangeStreamEndReason, Incrementer>;

  constructor() {
    const registers = [this.registry];
    // Process and Node.js runtime metrics (CPU, memory, event loop lag, GC, handles). prom-client
    // computes them when scraped; nothing runs on a timer.
    collectDefaultMetrics({ register: this.registry });
    this.requestSeconds = new BoundHistogram(
      'gateway_http_request_duration_seconds',
      'HTTP requests by route pattern, GraphQL root field and outcome (status class or error code); _count is the number of requests',
      REQUEST_BUCKETS,
      this.registry,
    );
    const storeSeconds = new BoundHistogram(
      'gateway_store_command_duration_seconds',
      'Redis command latency by store operation, failures included',
      STORE_BUCKETS,
      this.registry,
    );
    const storeErrors = new Counter({
      name: 'gateway_store_command_errors_total',
      help: 'Redis commands that failed (no connection, timeout, refused) by store operation',
      labelNames: ['operation'],
      registers,
    });
    this.storeSeconds = new Map(STORE_OPERATIONS.map((operation) => [operation, storeSeconds.bind({ operation })]));
    this.storeErrors = new Map(STORE_OPERATIONS.map((operation) => [operation, storeErrors.labels(operation)]));
    // Present from the start at 0, so an alert on its rate has a series to look at.
    for (const errors of this.storeErrors.values()) errors.inc(0);
    this.issued = new Counter({ name: 'gateway_sessions_issued_total', help: 'Sessions issued (GraphQL issueSession and REST shim)', registers });
    this.updated = new Counter({ name: 'gateway_sessions_updated_total', help: 'Sessions updated by updateSession', registers });
    this.revoked = new Counter({ name: 'gateway_sessions_revoked_total', help: 'Sessions revoked by revokeSession (that existed)', registers });
    this.batchSize = new Histogram({
      name: 'gateway_dataloader_batch_size',
      help: 'Distinct session IDs asked for per batch of the per-request GraphQL DataLoader',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.changesDelivered = new Counter({
      name: 'gateway_change_events_delivered_total',
      help: 'sessionChanges events sent to WebSocket subscribers (one per subscriber per change)',
      registers,
    });
    const streamsEnded = new Counter({
      name: 'gateway_change_streams_ended_total',
      help: 'sessionChanges streams the gateway ended with STORE_UNAVAILABLE, by reason: feed_lost (its Redis subscription was lost or could not be made), fell_behind (the subscriber had too many events waiting)',
      labelNames: ['reason'],
      registers,
    });
    this.streamsEnded = new Map(CHANGE_STREAM_END_REASONS.map((reason) => [reason, streamsEnded.labels(reason)]));
    // At 0 from the start, like the store errors: an alert on their increase has a series to watch.
    for (const ended of this.streamsEnded.values()) ended.inc(0);
  }

  /** `gateway_websocket_connections`, read when scraped from `count` (the WebSocket server's). */
  countWebSockets(count: () => number): void {
    new Gauge({
      name: 'gateway_websocket_connections',
      help: 'Open WebSocket connections (sessionChanges subscribers) on this instance',
      registers: [this.registry],
      collect() {
        this.set(count());
      },
    });
  }

  /**
   * The gateway's session cache (SESSION_CACHE=on), read from `stats` when scraped: hits, misses
   * and evictions as counters, entries and bytes as gauges.
   */
  watchSessionCache(stats: () => SessionCacheStats): void {
    const registers = [this.registry];
    const counter = (name: string, help: string, read: (now: SessionCacheStats) => number): void => {
      let counted = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = read(stats());
          this.inc(now - counted);
          counted = now;
        },
      });
    };
    counter('gateway_session_cache_hits_total', 'Session reads answered from the gateway cache', (now) => now.hits);
    counter('gateway_session_cache_misses_total', 'Session reads the gateway cache sent to the store while it was serving', (now) => now.misses);
    counter('gateway_session_cache_evictions_total', 'Cached sessions pushed out by SESSION_CACHE_MAX_ENTRIES or SESSION_CACHE_MAX_BYTES', (now) => now.evictions);
    const gauge = (name: string, help: string, read: (now: SessionCacheStats) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(stats()));
        },
      });
    };
    gauge('gateway_session_cache_entries', 'Sessions in the gateway cache', (now) => now.entries);
    gauge('gateway_session_cache_bytes', 'Approximate memory the cached sessions take, in bytes', (now) => now.bytes);
  }

  changeDelivered(): void {
    this.changesDelivered.inc();
  }

  changeStreamEnded(reason: ChangeStreamEndReason): void {
    this.streamsEnded.get(reason)?.inc();
  }

  observeRequest(route: string, operation: string, outcome: string, seconds: number): void {
    let byOperation = this.requestSeries.get(route);
    if (byOperation === undefined) this.requestSeries.set(route, (byOperation = new Map()));
    let byOutcome = byOperation.get(operation);
    if (byOutcome === undefined) byOperation.set(operation, (byOutcome = new Map()));
    let series = byOutcome.get(outcome);
    if (series === undefined) byOutcome.set(outcome, (series = this.requestSeconds.bind({ route, operation, outcome })));
    series.observe(seconds);
  }

  /** The store's `onCommand` observer; an arrow so it can be handed over as it is. */
  readonly observeStoreCommand = (operation: StoreOperation, seconds: number, ok: boolean): void => {
    this.storeSeconds.get(operation)?.observe(seconds);
    if (!ok) this.storeErrors.get(operation)?.inc();
  };

  observeLoaderBatch(size: number): void {
    this.batchSize.observe(size);
  }

  sessionIssued(): void {
    this.issued.inc();
  }

  sessionUpdated(): void {
    this.updated.inc();
  }

  sessionRevoked(): void {
    this.revoked.inc();
  }
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last is above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for the request path. Each label set is bound once to its own
 * counters, so an observation is a short bucket search and three additions; prom-client's own
 * histogram validates and hashes the labels on every observation, which cost a measurable share
 * of a session read. It sits in the same registry and prints in prom-client's format.
 */
class BoundHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  bind(labels: Record<string, string>): Observer {
    const series: Series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.series.push(series);
    const bounds = this.bounds;
    return {
      observe(value: number): void {
        let bucket = 0;
        while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
        (series.counts[bucket] as number)++;
        series.sum += value;
        series.count++;
      },
    };
  }

  /** What prom-client's registry reads when scraped. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: object[] }> {
    const values: object[] = [];
    for (const series of this.series) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...series.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...series.labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

/** `GET /metrics` in the Prometheus text format. */
export async function metricsPlugin(app: FastifyInstance, options: { readonly metrics: Metrics }): Promise<void> {
  const { registry } = options.metrics;
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).header('cache-control', 'no-store').send(await registry.metrics()));
}
