/**
 * GraphQL Code Generator: `schema/*.graphql` → `src/graphql/generated.ts`, the resolver and model
 * types `resolvers.ts` is written against, so a schema change the resolvers do not follow fails
 * `tsc`. `npm run codegen` writes the file (it is committed); `npm run codegen:check` (part of
 * `npm run typecheck`, so of CI) fails when it is stale. Paths are from the project root.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  generates: {
    'src/graphql/generated.ts': {
      plugins: [
        { add: { content: "/* Generated from schema/*.graphql by `npm run codegen`; do not edit. */\nimport type { StoredJson } from './stored-json';" } },
        'typescript',
        'typescript-resolvers',
      ],
      config: {
        useTypeImports: true,
        // Resolvers receive and return the store's record, not the GraphQL shape.
        mappers: { Session: '../session/model#SessionRecord', SignedInSession: '../sessions/service#SessionSummary', SessionToken: '../tokens/session-tokens#IssuedToken' },
        contextType: './context#GraphQLContext',
        scalars: {
          ID: 'string',
          DateTime: 'Date | string',
          JSON: 'unknown',
          // Resolvers may answer with the stored JSON text itself (see stored-json.ts).
          JSONObject: { input: 'Record<string, unknown>', output: 'Record<string, unknown> | StoredJson' },
        },
        // Input types as resolvers see them: read-only, like the rest of the code base.
        immutableTypes: true,
        // Enums as string unions, the values the code base already speaks.
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
