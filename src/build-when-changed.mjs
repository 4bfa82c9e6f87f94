/**
 * What `npm start` runs before the gateway: compiles `src/` to `dist/` and bundles the IDE, but
 * only when a source is newer than the last build, so a start with nothing changed is quick and
 * prints nothing. `src/graphql/generated.ts` is committed (`npm run codegen` rewrites it, the
 * typecheck fails when it is stale), so no code generation runs here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.built');

function newestChange(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestChange(join(path, name))), stat.mtimeMs);
}

const sources = ['src', 'schema', 'tsconfig.json', 'package-lock.json'].map((name) => join(root, name));
const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (sources.some((source) => newestChange(source) > builtAt)) {
  const startedAt = new Date();
  for (const [command, args] of [
    [process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]],
    [process.execPath, [join(root, 'src', 'playground', 'browser', 'build.mjs')]],
  ]) {
    const run = spawnSync(command, args, { stdio: 'inherit', cwd: root });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
  // Stamped with the time the build began: a source saved during the build counts as newer.
  writeFileSync(stamp, '');
  utimesSync(stamp, startedAt, startedAt);
}
