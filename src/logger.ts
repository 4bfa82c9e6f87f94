/**
 * The process logger: pino, JSON lines. Request lines carry the method and the path without
 * its query string (the legacy route takes the session ID in the query), and headers are
 * never logged, so neither session IDs nor service tokens reach a log.
 */
import pino, { type Logger } from 'pino';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        req: (request: FastifyRequest) => ({ method: request.method, path: pathOf(request.url), requestId: request.id }),
        res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      },
    },
    destination,
  );
}

/** The path of a URL, without query string or `;` path parameters. */
export function pathOf(url: string): string {
  const end = url.search(/[?;]/);
  return end < 0 ? url : url.slice(0, end);
}
