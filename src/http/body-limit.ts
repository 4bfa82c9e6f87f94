/**
 * The request body limit, and what becomes of a body the gateway refuses.
 *
 * The limit. A request body may hold a whole session's attributes, JSON-escaped (every byte may
 * double), plus the query and the rest of the JSON around them: `2 × MAX_ATTRIBUTE_BYTES + 64 KiB`,
 * 192 KiB (196,608 bytes) with the default MAX_ATTRIBUTE_BYTES of 64 KiB. The room above the
 * attributes' own limit is there so that the store's check answers with the precise
 * PAYLOAD_TOO_LARGE. nginx's `client_max_body_size` for `/graphql` (nginx/session-gateway.conf)
 * is this same number at the default, so nginx refuses a body the gateway would refuse before any
 * of it reaches an instance; test/nginx/body-limit.test.ts fails if the two drift apart.
 *
 * A refused body. Fastify answers a body over the limit with 413 (and one it cannot parse with
 * 400) and asks Node to close the connection, because the client may still be sending. Node then
 * destroys the socket as soon as the answer is written, with the rest of the body unread: the
 * kernel answers the bytes still arriving with a TCP reset, and a proxy that is still sending
 * (nginx writing a buffered body) gets EPIPE or ECONNRESET instead of the answer. nginx answers
 * its client 502 and counts a failure of the instance; a few such requests in `fail_timeout` take
 * every instance out of rotation, for everyone.
 *
 * So when a request fails while its body is not yet read to the end (too large, an unsupported
 * content type, any error raised before the body was parsed), the gateway first reads and
 * discards the rest, and answers once the body has ended, on a connection that stays open for
 * the next request. It reads at most DISCARD_BEYOND_LIMIT_BYTES past the limit: a body that
 * declares a larger Content-Length is refused at once, and a chunked one that goes on longer is
 * refused when it gets there, both with `Connection: close` (no proxy in front of the gateway may
 * send more than the limit anyway). A body that was read whole but could not be parsed (bad JSON)
 * keeps its connection too: nothing is left unread on it.
 *
 * A discard takes as long as the client takes to send the rest; the server's request timeout,
 * where one is set, bounds it as it bounds any body.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/** What a request body may hold besides a session's attributes: the query, names, JSON syntax. */
export const BODY_OVERHEAD_BYTES = 64 * 1024;

/** How far past the body limit a refused body is read and discarded to keep its connection. */
export const DISCARD_BEYOND_LIMIT_BYTES = 1024 * 1024;

/** The gateway's request body limit (Fastify's `bodyLimit`) for a MAX_ATTRIBUTE_BYTES. */
export function requestBodyLimit(maxAttributeBytes: number): number {
  return 2 * maxAttributeBytes + BODY_OVERHEAD_BYTES;
}

/**
 * Installs the discard on an app (before its routes are registered): a request that fails with
 * its body unread has the rest read and dropped before the answer goes out. Uses the app's own
 * `bodyLimit`.
 */
export function discardRefusedBodies(app: FastifyInstance): void {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024; // Fastify's default
  const maxDeclared = bodyLimit + DISCARD_BEYOND_LIMIT_BYTES;
  app.addHook('onError', (request, reply, error: FastifyError, done) => {
    const body = request.raw;
    // Fastify's own body errors (FST_ERR_CTP_*) are the ones that ask for `Connection: close`.
    const bodyError = typeof error.code === 'string' && error.code.startsWith('FST_ERR_CTP_');
    if (body.complete || !hasBody(body)) {
      if (bodyError) keepConnection(reply);
      done();
      return;
    }
    const declared = body.headers['content-length'];
    const length = declared === undefined ? undefined : Number(declared);
    if (length !== undefined && !(length <= maxDeclared)) {
      void reply.header('connection', 'close');
      done();
      return;
    }
    void discardRest(body, length ?? DISCARD_BEYOND_LIMIT_BYTES).then((ended) => {
      if (!ended) void reply.header('connection', 'close');
      else if (bodyError) keepConnection(reply);
      done();
    });
  });
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Undoes Fastify's `Connection: close` once nothing of the request is left unread. */
function keepConnection(reply: FastifyReply): void {
  if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
}

/** Reads the rest of a request body and drops it: true once it has ended, false past `maxBytes`. */
function discardRest(body: IncomingMessage, maxBytes: number): Promise<boolean> {
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (ended: boolean): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
      resolve(ended);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        body.pause();
        finish(false);
      }
    };
    const onEnd = (): void => finish(true);
    // The client went away first: there is no connection left to keep.
    const onClose = (): void => finish(body.complete);
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('close', onClose);
    body.resume();
  });
}
