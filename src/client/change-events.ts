/**
 * The client's end of `subscription { sessionChanges }`: one WebSocket to the gateway
 * (graphql-ws), kept open with reconnects and backoff, that tells its owner three things:
 *
 * - `up()`: the gateway confirmed the subscription (its SUBSCRIBED event); from here on every
 *   change reaches `change()`.
 * - `change(event)`: a session changed.
 * - `down(reason)`: changes may be missed from now on (socket closed, the gateway lost Redis, no
 *   pong in time). The owner must stop trusting what it cached until the next `up()`.
 *
 * A silent connection (a half-open TCP connection, a frozen peer) is found by pings: the client
 * pings every `keepAliveMs` and drops the socket when no pong comes within `pongTimeoutMs`.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { ChangeEvent } from '../session/changes';

/** What the gateway's sessionChanges stream sends: the gateway's own type, over the wire. */
export type { ChangeEvent } from '../session/changes';

export interface ChangeHandlers {
  up(): void;
  down(reason: string): void;
  change(event: ChangeEvent): void;
  /** A pong came back: the socket still delivers (the client renews its cache lease on it). */
  alive?(): void;
}

export interface ChangeEventsOptions {
  /** ws:// or wss:// URL of the gateway's /graphql. */
  readonly url: string;
  readonly token: string;
  readonly keepAliveMs: number;
  readonly pongTimeoutMs: number;
  readonly minRetryMs: number;
  readonly maxRetryMs: number;
}

const QUERY = 'subscription { sessionChanges { digest kind version reason } }';

export class ChangeEvents {
  private readonly client: Client;
  private socket: WebSocket | null = null;
  private pongTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private isUp = false;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly options: ChangeEventsOptions,
    private readonly handlers: ChangeHandlers,
  ) {
    this.client = createClient({
      url: options.url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${options.token}` },
      lazy: true,
      keepAlive: options.keepAliveMs,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => !this.closed,
      retryWait: async (retries) => new Promise((resolve) => setTimeout(resolve, this.delay(retries)).unref()),
      on: {
        connected: (socket) => {
          this.socket = socket as WebSocket;
        },
        closed: () => {
          this.socket = null;
          this.clearPong();
          this.lost('the event stream closed');
        },
        ping: (received) => {
          if (received) return; // the server's ping: graphql-ws answers it
          this.clearPong();
          this.pongTimer = setTimeout(() => {
            this.lost('no pong from the gateway in time');
            this.socket?.terminate();
          }, options.pongTimeoutMs);
          this.pongTimer.unref();
        },
        pong: (received) => {
          if (!received) return;
          this.clearPong();
          if (this.isUp) this.handlers.alive?.();
        },
      },
    });
    this.subscribe();
  }

  get connected(): boolean {
    return this.isUp;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.clearPong();
    this.unsubscribe?.();
    this.lost('the client is closed');
    // graphql-ws rejects dispose() with the close event when the socket is already closing
    // (unsubscribing a lazy client closes it): closed either way.
    await Promise.resolve(this.client.dispose()).catch(() => undefined);
  }

  /** Drops the socket as if the network had: for tests and for operators' "reconnect now". */
  terminate(): void {
    this.client.terminate();
  }

  private subscribe(): void {
    if (this.closed) return;
    this.unsubscribe = this.client.subscribe<{ sessionChanges: ChangeEvent }>(
      { query: QUERY },
      {
        next: (result) => {
          const event = result.data?.sessionChanges;
          if (event === undefined) return;
          if (event.kind === 'SUBSCRIBED') {
            this.failures = 0;
            this.isUp = true;
            this.handlers.up();
          } else if (this.isUp) {
            this.handlers.change(event);
          }
        },
        // The gateway ended the subscription (it lost Redis), or the client gave up on the
        // socket: either way, subscribe again after a pause.
        error: () => this.retry('the event stream failed'),
        complete: () => this.retry('the event stream ended'),
      },
    );
  }

  private retry(reason: string): void {
    this.lost(reason);
    if (this.closed) return;
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.subscribe();
    }, this.delay(this.failures));
    this.retryTimer.unref();
  }

  private lost(reason: string): void {
    if (!this.isUp) return;
    this.isUp = false;
    this.handlers.down(reason);
  }

  /** Exponential backoff with full jitter, from minRetryMs up to maxRetryMs. */
  private delay(attempt: number): number {
    const ceiling = Math.min(this.options.maxRetryMs, this.options.minRetryMs * 2 ** Math.min(attempt, 16));
    return this.options.minRetryMs + Math.random() * (ceiling - this.options.minRetryMs);
  }

  private clearPong(): void {
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }
}
