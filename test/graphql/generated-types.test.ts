/**
 * `schema/*.graphql` is the single source of truth: the committed `src/graphql/generated.ts` is
 * exactly what GraphQL Code Generator makes of it, and a schema change the resolvers do not
 * follow is a type error in `src/graphql/resolvers.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import codegenConfig from '../../src/graphql/codegen';

const ROOT = resolve(__dirname, '..', '..');
const GENERATED = join(ROOT, 'src', 'graphql', 'generated.ts');
const RESOLVERS = join(ROOT, 'src', 'graphql', 'resolvers.ts');
const CODEGEN = join(ROOT, 'node_modules', '.bin', 'graphql-codegen');
const SDL = readFileSync(join(ROOT, 'schema', 'session.graphql'), 'utf8');

/** The schema as it is, and two changes the resolvers do not follow. */
const VARIANTS = {
  current: SDL,
  renamedField: SDL.replace('  maxInactiveInterval: Int!\n  "Bumps', '  idleTimeoutSeconds: Int!\n  "Bumps'),
  changedResult: SDL.replace('sessions(ids: [ID!]!): [Session]!', 'sessions(ids: [ID!]!): [String]!'),
};
type Variant = keyof typeof VARIANTS;

let workDir: string;
/** What the generator makes of each variant, with the project's own codegen configuration. */
const generated = {} as Record<Variant, string>;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'gateway-codegen-'));
  const output = codegenConfig.generates['src/graphql/generated.ts'] as Record<string, unknown>;
  const generates: Record<string, unknown> = {};
  for (const [name, sdl] of Object.entries(VARIANTS)) {
    mkdirSync(join(workDir, name));
    writeFileSync(join(workDir, name, 'session.graphql'), sdl);
    generates[join(workDir, `${name}.ts`)] = { ...output, schema: join(workDir, name, '*.graphql') };
  }
  writeFileSync(join(workDir, 'codegen.json'), JSON.stringify({ generates }));
  // One run of the real CLI for all variants (it does not load inside Jest: it is partly ESM).
  execFileSync(process.execPath, [CODEGEN, '--config', join(workDir, 'codegen.json')], { cwd: ROOT, stdio: 'pipe' });
  for (const name of Object.keys(VARIANTS) as Variant[]) generated[name] = readFileSync(join(workDir, `${name}.ts`), 'utf8');
}, 60_000);

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Parsed once for all checks: every file but generated.ts is the same in each. */
const parsedFiles = new Map<string, ts.SourceFile | undefined>();

/** Type errors of resolvers.ts (and what it imports) under the project's tsconfig, with generated.ts replaced. */
function resolverTypeErrors(generatedText: string): string[] {
  const configFile = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const options = { ...ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT).options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (path, languageVersion) => {
    if (resolve(path) === GENERATED) return ts.createSourceFile(path, generatedText, languageVersion);
    if (!parsedFiles.has(path)) parsedFiles.set(path, getSourceFile(path, languageVersion));
    return parsedFiles.get(path);
  };
  const program = ts.createProgram([RESOLVERS], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file === undefined ? '' : `${diagnostic.file.fileName.slice(ROOT.length + 1)}: `;
    return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  });
}

test('the committed generated.ts is what schema/*.graphql generates', () => {
  expect(generated.current).toBe(readFileSync(GENERATED, 'utf8'));
});

test('the resolvers type-check against the schema as it is', () => {
  expect(resolverTypeErrors(generated.current)).toEqual([]);
});

test('a field renamed in the schema but not in the resolvers fails the type check', () => {
  expect(VARIANTS.renamedField).not.toBe(SDL);
  const errors = resolverTypeErrors(generated.renamedField);
  expect(errors).toContainEqual(expect.stringMatching(/'maxInactiveInterval' does not exist in type 'SessionResolvers/));
  expect(errors.every((error) => error.startsWith('src/graphql/resolvers.ts: '))).toBe(true);
});

test('a query result type the resolver cannot produce fails the type check', () => {
  expect(VARIANTS.changedResult).not.toBe(SDL);
  const errors = resolverTypeErrors(generated.changedResult);
  expect(errors).toContainEqual(expect.stringMatching(/Type 'SessionRecord' is not assignable to type 'Maybe<ResolverTypeWrapper<string>>'/));
  expect(errors.every((error) => error.startsWith('src/graphql/resolvers.ts: '))).toBe(true);
});
