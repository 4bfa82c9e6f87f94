/**
 * The GraphQL IDE (GraphiQL) that a browser gets at `GET /graphql`. It is served entirely by the
 * gateway: its JavaScript and CSS are bundled from npm at build time into `dist/ide/`
 * (`browser/build.mjs`) and answered from memory at `/graphql/ide/*`, so it works on networks
 * that reach no CDN. The page's Content-Security-Policy lets it load and call nothing but this
 * gateway, which matters on a page where service tokens are typed in.
 *
 * On by default outside production, off in production unless `PLAYGROUND=true` (config.ts).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';

export interface PlaygroundOptions {
  readonly enabled: boolean;
  /** The session header as configured: the header panel is pre-filled with it. */
  readonly sessionHeader: string;
}

/** `dist/ide/` at the project root, from `src/playground/` and from `dist/playground/` alike. */
const IDE_ASSET_DIR = resolve(__dirname, '..', '..', 'dist', 'ide');

const ASSET_PATH = '/graphql/ide/';
const ASSETS = [
  { file: 'ide.js', type: 'text/javascript; charset=utf-8' },
  { file: 'ide.css', type: 'text/css; charset=utf-8' },
] as const;

const PAGE_HEADERS = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    // CodeMirror and GraphiQL position things with style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** Registers `/graphql/ide/ide.js` and `/graphql/ide/ide.css`; nothing when the IDE is off. */
export async function playgroundPlugin(app: FastifyInstance, options: PlaygroundOptions): Promise<void> {
  if (!options.enabled) return;
  for (const asset of ASSETS) {
    const body = readAsset(asset.file);
    app.get(`${ASSET_PATH}${asset.file}`, async (_request, reply) =>
      reply.type(asset.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body),
    );
  }
}

/**
 * What a browser (a GET that prefers HTML to JSON) gets at `/graphql`: the IDE page, or, where
 * the IDE is off, NOT_FOUND.
 */
export function browserPage(options: PlaygroundOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  if (!options.enabled) {
    return async () => {
      throw new GatewayError('NOT_FOUND', 'the GraphQL IDE is off on this gateway (PLAYGROUND=false); send GraphQL requests as JSON');
    };
  }
  const html = renderPage(options.sessionHeader);
  return async (_request, reply) => reply.type('text/html; charset=utf-8').headers(PAGE_HEADERS).send(html);
}

function readAsset(file: string): Buffer {
  try {
    return readFileSync(join(IDE_ASSET_DIR, file));
  } catch (error) {
    throw new Error(`the GraphQL IDE's ${file} is missing from ${IDE_ASSET_DIR}: run \`npm run build\` (or set PLAYGROUND=false)`, {
      cause: error,
    });
  }
}

/** The first operations in the editor: how a service issues a session and a frontend reads it. */
function exampleOperations(sessionHeader: string): string {
  return `# The session gateway's GraphQL IDE (talks to it only).
#
# 1. Put a service token after "Bearer " in the
#    Authorization header (Headers, below), click into
#    IssueSession and press Ctrl-Enter.
# 2. Copy the new id into the ${sessionHeader} header, click
#    into MySession and run it: that is how a frontend
#    reads its own session (no token needed).
#
# Empty header placeholders are not sent.

mutation IssueSession {
  issueSession(input: {
    principal: "42"
    attributes: { user: { id: 42, name: "Kim" } }
  }) {
    id
    expiresAt
  }
}

query MySession {
  session {
    id
    principal
    attributes
    lastAccessedAt
    expiresAt
    version
  }
}
`;
}

/** JSON that is safe inside a `<script>` element: no `</script>` or `<!--` can form. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function renderPage(sessionHeader: string): string {
  const settings = {
    defaultQuery: exampleOperations(sessionHeader),
    defaultHeaders: JSON.stringify({ [sessionHeader]: '', Authorization: 'Bearer ' }, null, 2),
  };
  // Relative (`graphql/ide/…` from `/graphql`), so the page also works behind a path prefix.
  const assets = ASSET_PATH.slice(1);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Session gateway · GraphiQL</title>
<link rel="stylesheet" href="${assets}ide.css">
</head>
<body>
<div id="graphiql">Loading the GraphQL IDE…</div>
<script id="ide-settings" type="application/json">${scriptJson(settings)}</script>
<script src="${assets}ide.js"></script>
</body>
</html>
`;
}
