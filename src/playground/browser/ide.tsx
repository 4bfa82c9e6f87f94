/**
 * The browser side of the GraphQL IDE: GraphiQL, bundled at build time by `build.mjs` into
 * `dist/ide/`, so the page needs nothing but the gateway that serves it. The server puts the
 * page's settings in a JSON script element (see `../plugin.ts`); nothing here is configured twice.
 */
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import type { ComponentProps } from 'react';
import { createRoot } from 'react-dom/client';
import './page.css';

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher'];

/** What the server says about this page; the shape `../plugin.ts` writes. */
interface IdeSettings {
  readonly defaultQuery: string;
  /** JSON text of the header panel's first contents. */
  readonly defaultHeaders: string;
}

function readSettings(): IdeSettings {
  const element = document.getElementById('ide-settings');
  if (element === null || element.textContent === null) throw new Error('the page has no #ide-settings element');
  return JSON.parse(element.textContent) as IdeSettings;
}

/**
 * The header panel starts with placeholders (`"X-Session-ID": ""`, `"Authorization": "Bearer "`).
 * Sent as they are, an empty bearer token is a wrong token (UNAUTHENTICATED): a placeholder
 * nobody filled in is left out instead.
 */
function filledIn(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (trimmed === '' || /^bearer$/i.test(trimmed)) continue;
    out[name] = value;
  }
  return out;
}

/** The page is served at the GraphQL endpoint itself, so operations go to its own path. */
const fetcher: Fetcher = async (params, options) => {
  const response = await fetch(window.location.pathname, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...filledIn(options?.headers) },
    body: JSON.stringify(params),
  });
  return response.json();
};

const settings = readSettings();
const root = document.getElementById('graphiql');
if (root === null) throw new Error('the page has no #graphiql element');
createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={settings.defaultQuery}
    defaultHeaders={settings.defaultHeaders}
    defaultEditorToolsVisibility="headers"
    isHeadersEditorEnabled
  />,
);
