/**
 * The HTTP status and media type of a GraphQL response, per the GraphQL-over-HTTP spec, for
 * every door (Apollo and the compiled path):
 *
 * - `application/json` (what a client gets that sends no Accept, `*\/*`, or asks for it): 200 for
 *   every well-formed request, whatever GraphQL errors it carries (parse, validation, variables,
 *   a wrong token, a field's error). Clients on this media type (Apollo Client 3, urql) read
 *   `errors[].extensions.code` only from a 200.
 * - `application/graphql-response+json`: a request error (nothing executed: parse, validation,
 *   variables, credentials) answers 4xx, its code's status (errors.ts); once execution started
 *   (`data` is in the body) the answer is 200, field errors included.
 *
 * A request that is not well-formed GraphQL-over-HTTP (no query, a body that is not JSON, a
 * mutation over GET, a batch) keeps its 4xx on both media types.
 */
import Negotiator from 'negotiator';

export type ResponseMediaType = 'application/json' | 'application/graphql-response+json';

export const CONTENT_TYPE: Readonly<Record<ResponseMediaType, string>> = {
  'application/json': 'application/json; charset=utf-8',
  'application/graphql-response+json': 'application/graphql-response+json; charset=utf-8',
};

const OFFERED = [CONTENT_TYPE['application/json'], CONTENT_TYPE['application/graphql-response+json']];

/**
 * The media type a GraphQL response takes for this Accept header, negotiated as Apollo does
 * (equal preference goes to application/json); null when the client accepts neither.
 */
export function responseMediaType(accept: string | undefined): ResponseMediaType | null {
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json') return 'application/json';
  const preferred = new Negotiator({ headers: { accept } }).mediaType(OFFERED);
  if (preferred === undefined) return null;
  return preferred === CONTENT_TYPE['application/json'] ? 'application/json' : 'application/graphql-response+json';
}

/**
 * The status of a response to a well-formed request. `requestErrorStatus` is the status the
 * first error's code has (errors.ts) when nothing executed; `executed` is whether the body
 * carries `data`.
 */
export function graphqlStatus(media: ResponseMediaType, executed: boolean, requestErrorStatus: number): number {
  if (executed || media === 'application/json') return 200;
  return requestErrorStatus >= 400 && requestErrorStatus < 500 ? requestErrorStatus : 400;
}
