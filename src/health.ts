/**
 * Probes for load balancers and orchestrators, cheap enough to call every second:
 *
 *   GET /healthz   the process is up and serving HTTP; touches nothing else
 *   GET /readyz    the session store answers (Redis: one PING, bounded by the command timeout);
 *                  503 with the reason otherwise, so traffic goes to instances that can serve
 */
import type { FastifyInstance } from 'fastify';
import type { SessionService } from './sessions/service';

const HEALTHY = JSON.stringify({ status: 'ok' });

export async function healthPlugin(app: FastifyInstance, options: { readonly sessions: SessionService }): Promise<void> {
  const { sessions } = options;
  const ready = JSON.stringify({ status: 'ok', store: sessions.kind });

  app.get('/healthz', async (_request, reply) => reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(HEALTHY));

  app.get('/readyz', async (request, reply) => {
    reply.type('application/json; charset=utf-8').header('cache-control', 'no-store');
    try {
      await sessions.ping();
      return reply.send(ready);
    } catch (error) {
      request.errorCode = 'STORE_UNAVAILABLE';
      return reply.code(503).send({ status: 'unavailable', store: sessions.kind, reason: reasonOf(error) });
    }
  });
}

/** What the store's client said (e.g. "Connection is closed.", "Command timed out"). */
function reasonOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
