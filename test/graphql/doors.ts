/**
 * The two doors a GraphQL query can come through, for tests that hold both to one rule: a POST
 * (which the compiled path answers when it can) and a GET (always Apollo). Which door answered
 * is counted by watching `QueryFastPath.prototype.answer`, the compiled path's one entry.
 */
import { QueryFastPath } from '../../src/graphql/fast-path';
import type { Gateway } from '../support/gateway';

export interface DoorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  /** Whether the compiled path answered it. */
  readonly compiled: boolean;
}

export async function viaPost(gateway: Gateway, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DoorResponse> {
  const spy = jest.spyOn(QueryFastPath.prototype, 'answer');
  try {
    const response = await gateway.http.post('/graphql').set(headers).send({ query, variables });
    const answered = await Promise.all(spy.mock.results.map((result) => result.value as Promise<unknown>));
    return { status: response.status, headers: response.headers as Record<string, string>, body: response.body, compiled: answered.some((answer) => answer !== null) };
  } finally {
    spy.mockRestore();
  }
}

export async function viaGet(gateway: Gateway, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DoorResponse> {
  const params = new URLSearchParams({ query, ...(variables === undefined ? {} : { variables: JSON.stringify(variables) }) });
  // A GET needs a header a browser cannot send cross-site without a preflight (CSRF prevention).
  const preflighted = { 'Apollo-Require-Preflight': 'true', Accept: 'application/json', ...headers };
  const response = await gateway.http.get(`/graphql?${params}`).set(preflighted);
  return { status: response.status, headers: response.headers as Record<string, string>, body: response.body, compiled: false };
}

export function codeOf(response: DoorResponse): unknown {
  return response.body.errors?.[0]?.extensions?.code;
}
