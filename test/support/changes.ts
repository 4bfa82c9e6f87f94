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

/** A close event's code, or a GraphQL error's code. */
export function describe(error: unknown): string {
  if (Array.isArray(error)) return String((error[0] as { extensions?: { code?: string } })?.extensions?.code);
  if (typeof error === 'object' && error !== null && 'code' in error) return `close ${(error as { code: number }).code}`;
  return String(error);
}
