/**
 * Bundles the GraphQL IDE (GraphiQL, React and their CSS, from node_modules) into `dist/ide/`
 * (`ide.js`, `ide.css`), which the gateway serves itself: the IDE loads nothing from any other
 * host. Run by `npm run build` and, once per run, by the tests (test/support/build.ts).
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

await build({
  entryPoints: { ide: join(here, 'ide.tsx') },
  outdir: join(root, 'dist', 'ide'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  jsx: 'automatic',
  // React picks its production build by this constant.
  define: { 'process.env.NODE_ENV': '"production"' },
  // Licences travel inside the files served.
  legalComments: 'eof',
  logLevel: 'warning',
});
