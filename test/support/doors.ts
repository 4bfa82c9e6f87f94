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
