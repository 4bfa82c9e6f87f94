/**
 * A Java 17 program using only the JDK (test/tokens/java/SessionTokenCheck.java) checks a session
 * token the way a Java module would, through the shipped nginx in front of two gateway instances
 * on one Redis: it fetches the JWKS, verifies the ES256 signature (R || S, as JWS has it) and the
 * claims, refuses a tampered token, and introspects (RFC 7662, HTTP Basic) the token and a
 * revoked session's token. javac and java come from the distribution's JDK (test/run.sh).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SERVICE, SERVICE_TOKEN, startGatewayPair, type Gateway } from '../support/gateway';
import { startNginx, type NginxServer } from '../support/nginx-server';
import { startRedis, type RedisServer } from '../support/redis-server';

const run = promisify(execFile);
let server: RedisServer;
let a: Gateway;
let b: Gateway;
let nginx: NginxServer;
let classes: string;

beforeAll(async () => {
  server = await startRedis();
  const pair = await startGatewayPair(server.url);
  ({ a, b } = pair);
  nginx = await startNginx({ upstreams: [pair.baseA, pair.baseB].map((base) => base.replace(/^http:\/\//, '')) });
  classes = mkdtempSync(join(tmpdir(), 'session-token-java-'));
  await run('javac', ['--release', '17', '-d', classes, join(__dirname, 'java', 'SessionTokenCheck.java')]);
}, 120_000);
afterAll(async () => {
  await nginx?.destroy();
  await a?.close();
  await b?.close();
  await server?.destroy();
  if (classes !== undefined) rmSync(classes, { recursive: true, force: true });
});

const ISSUE = 'mutation($input: IssueSessionInput) { issueSession(input: $input) { id digest } }';
const TOKEN = 'query($id: ID) { sessionToken(id: $id) { token } }';

async function tokenOf(id: string): Promise<string> {
  return (await a.gql(TOKEN, { id }, SERVICE)).body.data?.sessionToken.token as string;
}

test('a JDK-only Java program verifies a session token against the JWKS and introspects it, through nginx', async () => {
  const session = (await a.gql(ISSUE, { input: { principal: 'member-java' } }, SERVICE)).body.data?.issueSession as { id: string; digest: string };
  const revokedSession = (await a.gql(ISSUE, { input: { principal: 'member-gone' } }, SERVICE)).body.data?.issueSession as { id: string };
  const revokedToken = await tokenOf(revokedSession.id);
  await b.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: revokedSession.id }, SERVICE);
  const base = `http://127.0.0.1:${nginx.port}`;
  const { stdout } = await run('java', ['-cp', classes, 'SessionTokenCheck', base, SERVICE_TOKEN, await tokenOf(session.id), session.digest, revokedToken]).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`the Java program failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  expect(stdout).toContain('signature alg=ES256');
  expect(stdout).toContain('valid=true');
  expect(stdout).toContain('cache-control=public, max-age=300');
  expect(stdout).toContain('tampered refused=true alg-none refused=true');
  expect(stdout).toContain('introspection active=true token_type=session_token revoked-active=false valid=true');
  expect(stdout.trim().endsWith('ALL OK')).toBe(true);
  // Both requests went through nginx to the gateways.
  expect(nginx.accessLog()).toMatch(/\/\.well-known\/jwks\.json/);
  expect(nginx.accessLog()).toMatch(/\/api\/v2\/introspect/);
}, 120_000);
