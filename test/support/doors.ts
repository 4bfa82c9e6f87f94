/**
 * Which door answered a request. The gateway has two ways to answer each of its hot requests,
 * and a parity test is only worth something if it knows which one it exercised:
 *
 * - GraphQL: the compiled query path (`QueryFastPath.answer` returning an answer), or Apollo
 *   (`ApolloServer.executeHTTPGraphQLRequest`).
 * - REST: the direct lane in front of Fastify (`SessionShim.serveDirect` returning true), or the
 *   Fastify routes.
 *
 * Observed with jest spies on the real methods (they still run): nothing is mocked. Start
 * watching before the requests, `take()` after each one, `restore()` when done. These are the
 * one place that knows the method names, should the doors be reorganised.
 */
import { ApolloServer } from '@apollo/server';
import { QueryFastPath } from '../../src/graphql/fast-path';
import { SessionShim } from '../../src/rest/session-shim';
import type { Gateway } from './gateway';

export type GraphQLDoor = 'compiled' | 'apollo';
export type RestDoor = 'direct lane' | 'fastify';

export interface DoorWatch<Door> {
  /** The doors that answered since the last take(), in order; and starts counting afresh. */
  take(): Promise<Door[]>;
  restore(): void;
}

export function watchGraphQLDoors(): DoorWatch<GraphQLDoor> {
  const answer = jest.spyOn(QueryFastPath.prototype, 'answer');
  const apollo = jest.spyOn(ApolloServer.prototype, 'executeHTTPGraphQLRequest');
  return {
    async take() {
      const doors: GraphQLDoor[] = [];
      // The compiled path declines (answers null) when the variables do not coerce; Apollo then answers.
      for (const result of answer.mock.results) if ((await result.value) !== null) doors.push('compiled');
      for (let i = 0; i < apollo.mock.calls.length; i++) doors.push('apollo');
      answer.mockClear();
      apollo.mockClear();
      return doors;
    },
    restore() {
      answer.mockRestore();
      apollo.mockRestore();
    },
  };
}

/**
 * REST doors. Every request reaches `serveDirect` first; the ones it leaves (returns false) go to
 * Fastify, which only the routes' requests reach (`/api/v1/session`, `/api/v2/session`, served or not).
 */
export function watchRestDoors(): DoorWatch<RestDoor> {
  const direct = jest.spyOn(SessionShim.prototype, 'serveDirect');
  return {
    async take() {
      const doors = direct.mock.results.map((result): RestDoor => (result.value === true ? 'direct lane' : 'fastify'));
      direct.mockClear();
      return doors;
    },
    restore() {
      direct.mockRestore();
    },
  };
}

/** A GraphQL response, and whether the compiled path answered it. */
export interface DoorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  readonly compiled: boolean;
}

/** A POST, which the compiled path answers when it can. */
export async function viaPost(gateway: Gateway, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DoorResponse> {
  const doors = watchGraphQLDoors();
  try {
    const response = await gateway.http.post('/graphql').set(headers).send({ query, variables });
    const compiled = (await doors.take()).includes('compiled');
    return { status: response.status, headers: response.headers as Record<string, string>, body: response.body, compiled };
  } finally {
    doors.restore();
  }
}

/** A GET, always Apollo's; with a header that passes CSRF prevention unless `headers` say otherwise. */
export async function viaGet(gateway: Gateway, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DoorResponse> {
  const params = new URLSearchParams({ query, ...(variables === undefined ? {} : { variables: JSON.stringify(variables) }) });
  const preflighted = { 'Apollo-Require-Preflight': 'true', Accept: 'application/json', ...headers };
  const response = await gateway.http.get(`/graphql?${params}`).set(preflighted);
  return { status: response.status, headers: response.headers as Record<string, string>, body: response.body, compiled: false };
}

export function codeOf(response: DoorResponse): unknown {
  return response.body.errors?.[0]?.extensions?.code;
}
