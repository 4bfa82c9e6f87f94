/**
 * Jest global setup: bundles the GraphQL IDE into dist/ide/ once per run (as `npm run build`
 * does), since the gateway serves it from there and dist/ is not committed.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function buildIde(): void {
  execFileSync(process.execPath, [join(__dirname, '..', '..', 'src', 'playground', 'browser', 'build.mjs')], { stdio: 'inherit' });
}
