/**
 * Subscribes to `sessionChanges` over a real WebSocket (graphql-ws client on `ws`), collecting
 * what arrives, for tests.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { waitUntil } from './gateway';

export interface ChangeSeen {
  digest: string;
  kind: string;
  version: number;
}

export interface Subscription {
  readonly events: ChangeSeen[];
  /** The error the subscription ended with: GraphQL errors, or the socket's close event. */
  error: unknown;
  completed: boolean;
  /** Resolves once the SUBSCRIBED event has arrived. */
  ready(): Promise<void>;
  dispose(): void;
}

export function subscribeChanges(url: string, connection: { authorization?: string; headers?: Record<string, string> } = {}): Subscription {
  class WithHeaders extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: connection.headers ?? {} });
    }
  }
  const client: Client = createClient({
    url,
    webSocketImpl: WithHeaders,
    retryAttempts: 0,
    connectionParams: connection.authorization === undefined ? undefined : { authorization: connection.authorization },
  });
  const seen: Subscription = {
    events: [],
    error: undefined,
    completed: false,
    async ready() {
      await waitUntil(async () => seen.events.some((event) => event.kind === 'SUBSCRIBED') || seen.error !== undefined);
      if (seen.error !== undefined) throw new Error(`the subscription failed: ${describe(seen.error)}`);
    },
    dispose: () => void client.dispose(),
  };
  client.subscribe<{ sessionChanges: ChangeSeen }>(
    { query: 'subscription { sessionChanges { digest kind version } }' },
    {
      next: (result) => {
        if (result.data) seen.events.push(result.data.sessionChanges);
        else seen.error = result.errors;
      },
      error: (error) => {
        seen.error = error;
      },
      complete: () => {
        seen.completed = true;
      },
    },
  );
  return seen;
}

/** A message of the graphql-transport-ws protocol, as it came over the socket. */
export interface ProtocolMessage {
  readonly id?: string;
  readonly type: string;
  readonly payload?: unknown;
}

/** A raw graphql-transport-ws socket subscribed to `sessionChanges` (id '1'), for tests that watch the protocol itself. */
export interface RawChangeStream {
  /** Every message received, in order. */
  readonly received: ProtocolMessage[];
  /** Sends another `subscribe` with `id` on the same socket. */
  subscribe(id: string): void;
  /** Closes the socket; resolves once it is closed. */
  close(): Promise<void>;
}

/**
 * Opens `url` (ws://…/graphql), acknowledged with `authorization`, and subscribes once: resolves
 * when the SUBSCRIBED event has arrived. No client library between: what the gateway sends is
 * what `received` holds.
 */
export async function rawChangeStream(url: string, authorization: string): Promise<RawChangeStream> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const received: ProtocolMessage[] = [];
  ws.on('message', (data: Buffer) => received.push(JSON.parse(data.toString()) as ProtocolMessage));
  const subscribe = (id: string): void => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { sessionChanges { kind } }' } }));
  const close = (): Promise<void> => {
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close();
    return closed;
  };
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
    await waitUntil(async () => received.some((message) => message.type === 'connection_ack'));
    subscribe('1');
    await waitUntil(async () => received.some((message) => message.type === 'next')); // SUBSCRIBED
  } catch (error) {
    await close();
    throw error;
  }
  return { received, subscribe, close };
}

/** A close event's code, or a GraphQL error's code. */
export function describe(error: unknown): string {
  if (Array.isArray(error)) return String((error[0] as { extensions?: { code?: string } })?.extensions?.code);
  if (typeof error === 'object' && error !== null && 'code' in error) return `close ${(error as { code: number }).code}`;
  return String(error);
}
