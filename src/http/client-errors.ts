/**
 * What the gateway answers a request Node's HTTP parser refuses: a request head over Node's
 * 16 KiB (431), a control character in a header value or another malformed request (400), a
 * request that took longer than the server's request timeout (408). The status and body are
 * Fastify's own; what differs is how the connection ends.
 *
 * Fastify (like Node) writes the answer and destroys the socket at once. Whatever the client was
 * still sending (the body after a bad header) then meets a closed socket, the kernel answers it
 * with a TCP reset, and a proxy that is still sending gets EPIPE or ECONNRESET before it reads the
 * answer: nginx answers its client 502 and counts a failure of this instance, so one client
 * sending such requests takes every instance out of rotation (see body-limit.ts for the same
 * trap with bodies). nginx passes such requests on: it accepts heads of up to 4 × 8 KiB and
 * header values Node's parser rejects.
 *
 * Instead, as nginx itself does ("lingering close"): write the answer with `Connection: close`,
 * close the sending side, keep reading and dropping what still arrives, and destroy the socket
 * when the client closes its side, after LINGER_BYTES more bytes, or after LINGER_MS, whichever
 * comes first. After a parse error the request's framing is lost, so the connection cannot be
 * kept.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyInstance } from 'fastify';

/** At most this many more bytes are read (and dropped) from a refused request's connection. */
export const LINGER_BYTES = 1024 * 1024;
/** A refused request's connection is destroyed at the latest this long after the answer. */
export const LINGER_MS = 5000;

/** `bytesRead` of each lingering socket when its answer was written. */
const lingering = new WeakMap<Socket, number>();

/** Fastify's `clientErrorHandler`. */
export function answerClientError(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  const code = typeof error.code === 'string' ? error.code : '';
  const since = lingering.get(socket);
  if (since !== undefined) {
    // The parser reports its error again for every chunk that still arrives; anything else
    // (a timeout, a reset) ends the wait.
    if (!code.startsWith('HPE_') || socket.bytesRead - since > LINGER_BYTES) socket.destroy();
    return;
  }
  if (code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own check: no new status line once an answer has started on this connection.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, message] = answerFor(code);
  const body = `{"error":"${STATUS_CODES[status] ?? ''}","message":"${message}","statusCode":${status}}`;
  this.log.trace({ err: error }, 'client error');
  lingering.set(socket, socket.bytesRead);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
}

function answerFor(code: string): [number, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Client Timeout'];
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Exceeded maximum allowed HTTP header size'];
  return [400, 'Client Error'];
}
