/**
 * OpenTelemetry tracing: one span per HTTP request, per GraphQL operation and per store call,
 * exported over OTLP/HTTP (JSON) in batches, off the request path. Off unless an OTLP endpoint is
 * configured (config.ts reads the standard OTEL_* variables): then this module is never loaded
 * (main.ts requires it only when `config.tracing` is set), and the request path pays one
 * null check per door and per store call.
 *
 * Built per app, nothing global: its own TracerProvider (never registered as the global one),
 * its own propagator and its own AsyncLocalStorage, so two gateways in one process trace apart.
 *
 * What a trace holds:
 *
 *   GET /api/v2/session            (SERVER; every door: Fastify's routes and the REST direct lane)
 *     GET                          (CLIENT; one per store call: its command, node, round trips)
 *   POST /graphql
 *     query MySession              (INTERNAL; the operation: Apollo and the compiled path alike)
 *       MGET
 *
 * The request span continues the caller's W3C `traceparent` (and `tracestate`); a request the
 * sampler drops gets no span at all below it (nothing is put in the async context), so a low
 * sampling ratio costs little more than tracing off.
 *
 * Nothing secret goes into a span, by construction: spans are built from a fixed set of
 * attributes (route pattern, status, error code, operation type and name, root field, store
 * operation and command, node address, counts), never from a URL, a header, a key, an argument,
 * a variable, a document or an error's message (which can quote a replica or a Redis reply).
 * test/tracing-secrets.test.ts scans every span of a run of all doors for the secrets it used.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type Sampler } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import type { TraceSampler, TracingConfig } from './config';
import { ERROR_STATUS, isErrorCode } from './errors';
import { isWellFormedSessionId } from './session/ids';
import type { CommandSpan, CommandTracer, StoreOperation } from './store/store';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace while tracing is on and the request is sampled; null otherwise. */
    trace: RequestTrace | null;
  }
}

/** The instrumentation scope every span carries. */
const SCOPE = 'session-gateway';
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
/** At shutdown, queued spans are sent for at most this long: a dead collector must not hold the drain. */
const SHUTDOWN_FLUSH_MS = 2000;

/** One sampled request while it runs: its span, and its GraphQL operation's while one runs. */
export class RequestTrace {
  /** The GraphQL operation's span, while it runs. */
  operation: Span | null = null;
  /** DataLoader batches the operation read, and the largest. */
  batches = 0;
  largestBatch = 0;

  constructor(readonly span: Span) {}

  /** Where a store call made now belongs: under the operation, or under the request. */
  get parent(): Span {
    return this.operation ?? this.span;
  }
}

/** Whether an error code is the server's fault (5xx), which marks a span as failed. */
function serverFault(code: string | null): boolean {
  return code !== null && isErrorCode(code) && ERROR_STATUS[code] >= 500;
}

function samplerOf(config: TraceSampler): Sampler {
  const root = config.root === 'always_on' ? new AlwaysOnSampler() : config.root === 'always_off' ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(config.ratio);
  return config.parentBased ? new ParentBasedSampler({ root }) : root;
}

export class Tracing {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly current = new AsyncLocalStorage<RequestTrace>();
  /** The store's tracer (RedisStoreOptions.tracer): a span per call under the current request. */
  readonly store: CommandTracer;

  constructor(config: TracingConfig) {
    const exporter = new OTLPTraceExporter({ url: config.tracesUrl, headers: { ...config.headers }, timeoutMillis: config.exportTimeoutMs });
    this.provider = new TracerProvider({
      sampler: samplerOf(config.sampler),
      resource: defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName })),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: config.batch.scheduledDelayMs,
          exportTimeoutMillis: config.batch.exportTimeoutMs,
          maxQueueSize: config.batch.maxQueueSize,
          maxExportBatchSize: config.batch.maxExportBatchSize,
        }),
      ],
    });
    this.tracer = this.provider.getTracer(SCOPE);
    this.store = { start: (operation, command, script) => this.storeCall(operation, command, script) };
  }

  /**
   * The trace of a request that starts now, continuing the caller's `traceparent`; null when
   * the sampler drops it. `route` is the route pattern (null: no route matched), never the URL.
   */
  startRequest(headers: IncomingHttpHeaders, method: string, route: string | null, requestId: string): RequestTrace | null {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      route === null ? method : `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          ...(route === null ? {} : { 'http.route': route }),
          // The request ID, as in the log line (request-telemetry.ts: never one shaped like a session ID).
          'session_gateway.request_id': requestId,
        },
      },
      parent,
    );
    return span.isRecording() ? new RequestTrace(span) : null;
  }

  /** Ends a request's span with its status and the error code it ended with, if any. */
  endRequest(request: RequestTrace, status: number, errorCode: string | null): void {
    const span = request.span;
    span.setAttribute('http.response.status_code', status);
    span.setAttribute('session_gateway.outcome', errorCode ?? STATUS_CLASS[(status / 100) | 0] ?? 'other');
    if (status >= 500 || serverFault(errorCode)) {
      span.setAttribute('error.type', errorCode ?? String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /** Runs `work` (and everything it starts) as part of `request`: its store calls become its children. */
  within<T>(request: RequestTrace, work: () => T): T {
    return this.current.run(request, work);
  }

  /**
   * A GraphQL operation starts in the current request (both doors call this once they know the
   * operation): `type` is `query` or `mutation`, `name` the operation's own name, `rootField`
   * the operation label of the metrics (operation-label.ts).
   */
  operationStarted(type: string, name: string | null, rootField: string): void {
    const request = this.current.getStore();
    if (request === undefined) return;
    // A name is the client's text; one shaped like a session ID is left out, as request IDs are.
    const named = name !== null && name !== '' && !isWellFormedSessionId(name) ? name : null;
    request.batches = 0;
    request.largestBatch = 0;
    request.operation = this.tracer.startSpan(
      named === null ? type : `${type} ${named}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { 'graphql.operation.type': type, ...(named === null ? {} : { 'graphql.operation.name': named }), 'session_gateway.graphql.root_field': rootField },
      },
      trace.setSpan(ROOT_CONTEXT, request.span),
    );
  }

  /** The current operation ended, answering `errorCode` first (null: no error). */
  operationEnded(errorCode: string | null): void {
    const request = this.current.getStore();
    const span = request?.operation;
    if (request === undefined || span === null || span === undefined) return;
    request.operation = null;
    span.setAttribute('session_gateway.outcome', errorCode ?? 'ok');
    if (request.batches > 0) {
      span.setAttribute('session_gateway.dataloader.batches', request.batches);
      span.setAttribute('session_gateway.dataloader.batch_size', request.largestBatch);
    }
    if (errorCode !== null) span.setAttribute('error.type', errorCode);
    if (serverFault(errorCode)) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /**
   * The operation started did not run here after all (the compiled path declined it, and Apollo
   * runs it with a span of its own): its span is dropped, never ended, so never exported.
   */
  operationDropped(): void {
    const request = this.current.getStore();
    if (request !== undefined) request.operation = null;
  }

  /** A DataLoader batch of `size` session IDs, read for the current operation. */
  loaderBatch(size: number): void {
    const request = this.current.getStore();
    if (request === undefined || request.operation === null) return;
    request.batches += 1;
    request.largestBatch = Math.max(request.largestBatch, size);
  }

  /**
   * Traces every request Fastify serves: its span starts when it is routed (body parsing
   * included) and ends with its response; its handler runs in its context. The context is
   * entered at preHandler, not at onRequest: a body's stream events run outside any context
   * entered before them.
   */
  traceRequests(app: FastifyInstance): void {
    app.decorateRequest('trace', null);
    app.addHook('onRequest', (request, _reply, done) => {
      request.trace = this.startRequest(request.headers, request.method, request.routeOptions.url ?? null, request.id);
      done();
    });
    app.addHook('preHandler', (request, _reply, done) => {
      const traced = request.trace;
      if (traced === null) return done();
      this.current.run(traced, done);
    });
    app.addHook('onResponse', (request, reply, done) => {
      if (request.trace !== null) this.endRequest(request.trace, reply.statusCode, request.errorCode);
      done();
    });
    app.addHook('onClose', async () => this.shutdown());
  }

  /** Sends every span ended so far (tests; the drain). */
  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  /** Sends what is queued (for at most 2 s) and stops. */
  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
      timer.unref();
    });
    await Promise.race([this.provider.shutdown().catch(() => undefined), deadline]);
    clearTimeout(timer);
  }

  /** A store call's span, under the current request (or its operation); none outside a traced request. */
  private storeCall(operation: StoreOperation, command: string, script: string | null): CommandSpan | null {
    const request = this.current.getStore();
    if (request === undefined) return null;
    const span = this.tracer.startSpan(
      script === null ? command : `${command} ${script}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'redis',
          'db.operation.name': command,
          ...(script === null ? {} : { 'db.stored_procedure.name': script }),
          'session_gateway.store.operation': operation,
        },
      },
      trace.setSpan(ROOT_CONTEXT, request.parent),
    );
    return new StoreCallSpan(span);
  }
}

/** A store call's span: the nodes it reached and its round trips, set when it ends. */
class StoreCallSpan implements CommandSpan {
  roundTrips = 0;
  private readonly nodes = new Set<string>();
  private replicas = 0;

  constructor(private readonly span: Span) {}

  roundTrip(node: string | null): void {
    this.roundTrips += 1;
    if (node !== null) this.nodes.add(node);
  }

  waited(replicas: number): void {
    this.replicas = replicas;
  }

  end(error: { readonly code: string; readonly outcome?: string | undefined } | null): void {
    const span = this.span;
    span.setAttribute('session_gateway.store.round_trips', this.roundTrips);
    if (this.replicas > 0) span.setAttribute('session_gateway.store.waited_replicas', this.replicas);
    const nodes = [...this.nodes];
    if (nodes.length > 0) span.setAttribute('session_gateway.store.nodes', nodes);
    if (nodes.length === 1) {
      const node = nodes[0] as string;
      const colon = node.lastIndexOf(':');
      span.setAttribute('server.address', node.slice(0, colon));
      span.setAttribute('server.port', Number(node.slice(colon + 1)));
    }
    if (error !== null) {
      span.setAttribute('error.type', error.code);
      if (error.outcome !== undefined) span.setAttribute('session_gateway.store.outcome', error.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

/** The app's tracing, from its configuration. */
export function startTracing(config: TracingConfig): Tracing {
  return new Tracing(config);
}
