/**
 * An `Upgrade` the gateway does not support is ignored, as RFC 9110 §7.8 allows: the request is
 * served as the ordinary HTTP/1.1 request it also is. Java's default `HttpClient` (and Spring's
 * clients on it) asks every plain-http request to upgrade to h2c (`Connection: Upgrade,
 * HTTP2-Settings`, `Upgrade: h2c`); only `Upgrade: websocket` on /graphql is a WebSocket here.
 *
 * Node hands every request that asks to upgrade to the server's `upgrade` listeners, with the
 * socket detached from its HTTP parser. To serve it as ordinary, its head is written out again
 * without the upgrade (the `Upgrade` and `HTTP2-Settings` headers, and those tokens of
 * `Connection`), put back in front of whatever of the body already arrived, and the socket is
 * handed to the HTTP server as a new connection: the request, its body and every later request
 * on the connection are parsed and answered as usual (keep-alive included).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Headers that only mean something for the upgrade itself. */
const UPGRADE_HEADERS = new Set(['upgrade', 'http2-settings']);

export function serveAsOrdinaryRequest(server: Server, request: IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (UPGRADE_HEADERS.has(lower)) continue;
    if (lower === 'connection') {
      const kept = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !UPGRADE_HEADERS.has(token.toLowerCase()));
      if (kept.length > 0) lines.push(`${name}: ${kept.join(', ')}`);
      continue;
    }
    lines.push(`${name}: ${value}`);
  }
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  server.emit('connection', socket);
}
