/**
 * What every response carries, whichever way it leaves: the request's `X-Request-ID`
 * (request-telemetry.ts decides it), and `Connection: close` while the app drains (drain.ts).
 * Most responses go through Fastify's reply, stamped by one `onSend` hook; the doors that answer
 * past Fastify's reply (the compiled GraphQL path, the REST shim's direct lane) write theirs
 * whole through `sendRaw`, which stamps the same two.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { DrainState } from './drain';
import { REQUEST_ID_HEADER } from '../request-telemetry';

/** Installs the stamp on every reply `app` sends (one hook, built once per app). */
export function stampReplies(app: FastifyInstance, drain: DrainState): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (drain.draining) reply.header('connection', 'close');
    done(null, payload);
  });
}

/** Sends a whole response straight through node:http, stamped as every response is. */
export function sendRaw(response: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer | string | null, requestId: string, drain: DrainState): void {
  headers['content-length'] = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  headers[REQUEST_ID_HEADER] = requestId;
  if (drain.draining) headers.connection = 'close';
  response.writeHead(status, headers);
  response.end(body ?? undefined);
}
