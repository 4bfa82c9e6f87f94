/**
 * Whether the app is draining (after SIGTERM: `app.close()` has begun). While it drains, a
 * response that completes an in-flight request also closes its connection, since an idle
 * keep-alive connection would otherwise hold the drain open until the client's keep-alive ends
 * (response-headers.ts writes that `Connection: close`, on both ways a response leaves).
 *
 * One per app, made before the app itself: the REST shim's direct lane, which answers in front
 * of Fastify, is built first and holds it too.
 */
import type { FastifyInstance } from 'fastify';

export class DrainState {
  private drainingNow = false;

  get draining(): boolean {
    return this.drainingNow;
  }

  /** Starts draining when `app` begins to close (its preClose hooks run). */
  watch(app: FastifyInstance): void {
    app.addHook('preClose', (done) => {
      this.drainingNow = true;
      done();
    });
  }
}
