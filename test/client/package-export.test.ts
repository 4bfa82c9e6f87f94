/**
 * The client ships as this package's `session-gateway/client` export: a backend module that
 * depends on the package loads it by that name, types included.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('require("session-gateway/client") loads the client from the built package, with its types', () => {
  // Node resolves a package's own name through its "exports" (self-reference), as a dependent would.
  const out = execFileSync(
    process.execPath,
    ['-e', 'const c = require("session-gateway/client"); console.log(typeof c.SessionClient, typeof c.SessionGatewayError, require.resolve("session-gateway/client"))'],
    { cwd: ROOT, encoding: 'utf8' },
  ).trim();
  expect(out).toBe(`function function ${join(ROOT, 'dist', 'client', 'index.js')}`);
  expect(existsSync(join(ROOT, 'dist', 'client', 'index.d.ts'))).toBe(true);
});
