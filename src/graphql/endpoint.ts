/**
 * Where the GraphQL face is served: queries and mutations over HTTP, the IDE for a browser, and
 * subscriptions over WebSocket, all at one path.
 */
import { pathOf } from '../logger';

export const GRAPHQL_PATH = '/graphql';

/** Whether a request URL is for the endpoint itself: its query and `;` parameters aside, nothing below it. */
export function isGraphQLEndpoint(url: string): boolean {
  return pathOf(url) === GRAPHQL_PATH;
}
