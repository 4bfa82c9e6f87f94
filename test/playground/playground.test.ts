/**
 * The GraphQL IDE over HTTP: who gets it, what the page holds, and that production turns it
 * and introspection off unless PLAYGROUND=true. (test/playground/browser.test.ts runs it in Chromium.)
 */
import { SERVICE, errorCode, startGateway, type Gateway } from '../support/gateway';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const INTROSPECTION = '{ __schema { queryType { name } } }';

describe('outside production (the default)', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => gateway.close());

  test('a browser opening GET /graphql gets GraphiQL, served by the gateway itself', async () => {
    const page = await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script src="graphql/ide/ide.js"></script>');
    expect(page.text).toContain('<link rel="stylesheet" href="graphql/ide/ide.css">');
    // Nothing on the page comes from another host, and the browser is told to load nothing from one.
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");

    const script = await gateway.http.get('/graphql/ide/ide.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.text).toContain('graphiql');
    const style = await gateway.http.get('/graphql/ide/ide.css');
    expect(style.status).toBe(200);
    expect(style.headers['content-type']).toMatch(/^text\/css/);
    expect(style.text).toContain('.graphiql-container');
  });

  test('the header panel is pre-filled with the session header and Authorization, the editor with an example', async () => {
    const page = await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT);
    const json = /<script id="ide-settings" type="application\/json">(.*?)<\/script>/s.exec(page.text)?.[1];
    const settings = JSON.parse(json as string) as { defaultHeaders: string; defaultQuery: string };
    expect(JSON.parse(settings.defaultHeaders)).toEqual({ 'X-Session-ID': '', Authorization: 'Bearer ' });
    expect(settings.defaultQuery).toMatch(/mutation IssueSession \{\s+issueSession\(/);
    expect(settings.defaultQuery).toMatch(/query MySession \{\s+session \{/);
    // The example runs as it stands against this gateway.
    const issued = await gateway.http.post('/graphql').set(SERVICE).send({ query: settings.defaultQuery, operationName: 'IssueSession' });
    expect(issued.status).toBe(200);
    const id = issued.body.data.issueSession.id as string;
    const read = await gateway.http.post('/graphql').set('X-Session-ID', id).send({ query: settings.defaultQuery, operationName: 'MySession' });
    expect(read.body.data.session).toMatchObject({ id, principal: '42', attributes: { user: { id: 42, name: 'Kim' } } });
  });

  test('GraphQL clients and curl still get Apollo on GET /graphql', async () => {
    for (const accept of ['application/json', '*/*', 'application/graphql-response+json, application/json', 'text/html;q=0.5, application/json']) {
      const response = await gateway.http.get('/graphql').query({ query: '{ __typename }' }).set('Accept', accept).set('Apollo-Require-Preflight', 'true');
      expect({ accept, status: response.status, body: response.body }).toEqual({ accept, status: 200, body: { data: { __typename: 'Query' } } });
    }
  });

  test('introspection is answered', async () => {
    const response = await gateway.gql(INTROSPECTION);
    expect(response.body.data?.__schema.queryType.name).toBe('Query');
  });
});

describe('in production', () => {
  const PRODUCTION = { NODE_ENV: 'production' };

  test('without PLAYGROUND there is no IDE and no introspection', async () => {
    const gateway = await startGateway({ env: PRODUCTION });
    try {
      const page = await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT);
      expect(page.status).toBe(404);
      expect(page.headers['content-type']).toMatch(/^application\/json/);
      expect(page.body.errors[0].extensions.code).toBe('NOT_FOUND');
      expect(page.body.errors[0].message).toMatch(/IDE is off/);
      expect((await gateway.http.get('/graphql/ide/ide.js')).status).toBe(404);

      const introspection = await gateway.gql(INTROSPECTION);
      expect(introspection.status).toBe(200);
      expect(errorCode(introspection)).toBe('BAD_USER_INPUT');
      expect(introspection.body.errors?.[0]?.message).toMatch(/introspection/i);
      // Ordinary operations are unaffected.
      expect((await gateway.gql('{ session { id } }')).body).toEqual({ data: { session: null } });
    } finally {
      await gateway.close();
    }
  });

  test('PLAYGROUND=true turns both on', async () => {
    const gateway = await startGateway({ env: { ...PRODUCTION, PLAYGROUND: 'true' } });
    try {
      const page = await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT);
      expect(page.status).toBe(200);
      expect(page.text).toContain('id="ide-settings"');
      expect((await gateway.http.get('/graphql/ide/ide.js')).status).toBe(200);
      expect((await gateway.gql(INTROSPECTION)).body.data?.__schema.queryType.name).toBe('Query');
    } finally {
      await gateway.close();
    }
  });
});

test('PLAYGROUND=false turns both off in development too', async () => {
  const gateway = await startGateway({ env: { PLAYGROUND: 'false' } });
  try {
    expect((await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT)).status).toBe(404);
    expect(errorCode(await gateway.gql(INTROSPECTION))).toBe('BAD_USER_INPUT');
  } finally {
    await gateway.close();
  }
});

test('a custom SESSION_HEADER is the one pre-filled', async () => {
  const gateway = await startGateway({ env: { SESSION_HEADER: 'X-Auth-Session' } });
  try {
    const page = await gateway.http.get('/graphql').set('Accept', BROWSER_ACCEPT);
    expect(page.text).toContain('\\"X-Auth-Session\\": \\"\\"');
    expect(page.text).not.toContain('X-Session-ID');
  } finally {
    await gateway.close();
  }
});
