/**
 * The process logger: pino, JSON lines. Request lines carry the route pattern, never the URL
 * (the legacy route takes the session ID in the query), headers are never logged, and errors
 * are logged as type, message, code and stack only (an error object may carry the request, its
 * headers or a Redis command's arguments), so neither session IDs nor service tokens reach a log.
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
        err: errorFields,
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

interface LoggedError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: LoggedError;
}

function errorFields(error: unknown, depth = 0): LoggedError {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.cause !== undefined && depth < 3 ? { cause: errorFields(error.cause, depth + 1) } : {}),
  };
}
