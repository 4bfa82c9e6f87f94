/**
 * Whether a `GET /graphql` is a browser opening the endpoint (which gets the IDE) rather than a
 * GraphQL client: read from its Accept header, by Apollo's rule. (Which JSON media type a GraphQL
 * answer takes is response-status.ts's.)
 */

/** The q-value an Accept header gives a media type: its most specific matching range counts. */
function quality(ranges: ReadonlyArray<{ type: string; q: number }>, mediaType: string): number {
  const [major] = mediaType.split('/');
  const match = ranges.find((range) => range.type === mediaType)
    ?? ranges.find((range) => range.type === `${major}/*`)
    ?? ranges.find((range) => range.type === '*/*');
  return match?.q ?? 0;
}

/**
 * Apollo's rule: HTML only when the client ranks it strictly above JSON. A browser's
 * `text/html,…,*\/*;q=0.8` does; `*\/*` (curl), `application/json` and GraphQL clients do not.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
  const html = quality(ranges, 'text/html');
  return html > 0 && html > Math.max(quality(ranges, 'application/json'), quality(ranges, 'application/graphql-response+json'));
}
