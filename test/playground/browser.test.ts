/**
 * The GraphQL IDE in a real browser: Debian's headless Chromium (no downloaded browser), driven by
 * playwright-core, opens `GET /graphql` on a gateway listening on loopback, while every request to
 * any other host is refused. A person's steps: put the service token in the header panel, run
 * IssueSession, copy the new ID from the result into the X-Session-ID header, run MySession, and
 * see the same ID come back. A screenshot is left in test-results/playground.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sessionDigest } from '../../src/session/ids';
import { SERVICE_TOKEN, startGateway, type Gateway } from '../support/gateway';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(__dirname, '..', '..', 'test-results', 'playground.png');
const UI_TIMEOUT_MS = 20_000;
const SESSION_ID = /"id": "([A-Za-z0-9_-]{43})"/;

let gateway: Gateway;
let origin: string;
let profileDir: string;
let browser: BrowserContext;

beforeAll(async () => {
  gateway = await startGateway();
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
  profileDir = mkdtempSync(join(tmpdir(), 'gateway-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  if (profileDir !== undefined) rmSync(profileDir, { recursive: true, force: true });
});

/** Refuses every request that would leave the machine; answers what was refused. */
async function loopbackOnly(page: Page): Promise<string[]> {
  const refused: string[] = [];
  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    const local = url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1' || url.hostname === 'localhost';
    if (local) return route.continue();
    refused.push(url.href);
    return route.abort('blockedbyclient');
  });
  return refused;
}

/** Replaces the whole text of a CodeMirror editor the way a person does: click, select all, type. */
async function replaceEditorText(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(`${editor} .CodeMirror`).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

/** Runs the operation under the cursor: click on the line that starts it, Ctrl-Enter. */
async function runOperation(page: Page, firstLine: string): Promise<void> {
  await page.locator('.graphiql-query-editor .CodeMirror-line', { hasText: firstLine }).click();
  await page.keyboard.press('Control+Enter');
}

async function resultText(page: Page): Promise<string> {
  return page.locator('.result-window').innerText();
}

test('GraphiQL, served by the gateway alone, issues a session and reads it back', async () => {
  const page = await browser.newPage();
  const refused = await loopbackOnly(page);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });

  const response = await page.goto(`${origin}/graphql`);
  expect(response?.status()).toBe(200);
  const queryEditor = page.locator('.graphiql-query-editor .CodeMirror');
  await queryEditor.waitFor({ timeout: UI_TIMEOUT_MS });
  await expect(queryEditor.innerText()).resolves.toContain('mutation IssueSession');

  const headers = 'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)';
  await page.locator(`${headers} .CodeMirror`).waitFor({ timeout: UI_TIMEOUT_MS });
  const prefilled = await page.locator(`${headers} .CodeMirror`).innerText();
  expect(prefilled).toContain('"X-Session-ID": ""');
  expect(prefilled).toContain('"Authorization": "Bearer "');

  // A service issues a session.
  await replaceEditorText(page, headers, JSON.stringify({ 'X-Session-ID': '', Authorization: `Bearer ${SERVICE_TOKEN}` }, null, 2));
  await runOperation(page, 'mutation IssueSession');
  await page.locator('.result-window', { hasText: /"issueSession": \{/ }).waitFor({ timeout: UI_TIMEOUT_MS });
  const id = SESSION_ID.exec(await resultText(page))?.[1];
  expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);

  // A frontend reads its own session with only the ID, no token.
  await replaceEditorText(page, headers, JSON.stringify({ 'X-Session-ID': id, Authorization: 'Bearer ' }, null, 2));
  await runOperation(page, 'query MySession');
  await page.locator('.result-window', { hasText: /"session": \{/ }).waitFor({ timeout: UI_TIMEOUT_MS });
  const shown = await resultText(page);
  expect(SESSION_ID.exec(shown)?.[1]).toBe(id);
  expect(shown).toContain('"principal": "42"');
  expect(shown).not.toContain('"errors"');

  // The session the browser saw is the one the gateway keeps.
  const [stored] = await gateway.store.getMany([sessionDigest(id as string)]);
  expect(stored !== null && stored !== undefined && 'principal' in stored ? stored.principal : undefined).toBe('42');

  mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(refused).toEqual([]);
  expect(problems).toEqual([]);
  await page.close();
}, 90_000);
