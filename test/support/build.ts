/**
 * Jest global setup, once per run before any suite: compiles the gateway to dist/ (tests that
 * run `node dist/main.js`, or load the package's `session-gateway/client` export, need it) and
 * bundles the GraphQL IDE into dist/ide/ (the gateway serves it from there), as `npm run build`
 * does. dist/ is not committed.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export default function build(): void {
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, [join(ROOT, 'src', 'playground', 'browser', 'build.mjs')], { stdio: 'inherit' });
}
