/**
 * An OTLP/HTTP trace receiver for tests: a node:http server on a loopback port of its own that
 * takes `POST /v1/traces` in the JSON encoding (what @opentelemetry/exporter-trace-otlp-http
 * sends), as an OpenTelemetry Collector would, and keeps every span it was sent, decoded, with
 * its resource. Listening on port 0 in this process: the kernel picks the port, no race.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One exported span, as decoded from OTLP JSON. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  /** 1 internal, 2 server, 3 client (OTLP's SpanKind numbers). */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, unknown>>;
  /** The span as it came, for a scan of everything in it. */
  readonly raw: unknown;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: give it as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Every request body received so far, as sent (JSON text). */
  bodies(): string[];
  /** Forgets what was received. */
  clear(): void;
  close(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

function valueOf(value: OtlpValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: Array<{ key: string; value?: OtlpValue }> | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: OtlpValue }> };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        traceState?: string;
        name: string;
        kind: number;
        attributes?: Array<{ key: string; value?: OtlpValue }>;
        status?: { code?: number };
      }>;
    }>;
  }>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let received: ReceivedSpan[] = [];
  let bodies: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces' || !String(request.headers['content-type']).startsWith('application/json')) {
        response.writeHead(404).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      const body = JSON.parse(text) as ExportRequest;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            received.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              traceState: span.traceState ?? '',
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              statusCode: span.status?.code ?? 0,
              resource,
              raw: span,
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    bodies: () => [...bodies],
    clear() {
      received = [];
      bodies = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The spans of one trace, and a way to walk it: each span's children, by name. */
export function traceOf(spans: readonly ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((span) => span.traceId === traceId);
}

/** The one span with this parent and name; fails (with what there is) when there is not exactly one. */
export function childOf(spans: readonly ReceivedSpan[], parent: ReceivedSpan, name: string): ReceivedSpan {
  const found = spans.filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId && span.name === name);
  if (found.length !== 1) {
    const children = spans.filter((span) => span.parentSpanId === parent.spanId).map((span) => span.name);
    throw new Error(`expected one child "${name}" of "${parent.name}", found ${found.length}; its children: ${JSON.stringify(children)}`);
  }
  return found[0] as ReceivedSpan;
}

/** The tree of a trace below `root` as names, children sorted: what a parity test compares. */
export function shapeOf(spans: readonly ReceivedSpan[], root: ReceivedSpan): object {
  const children = spans.filter((span) => span.parentSpanId === root.spanId && span.traceId === root.traceId);
  return { name: root.name, kind: root.kind, children: children.map((child) => shapeOf(spans, child)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) };
}
