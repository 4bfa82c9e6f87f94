/**
 * The executable schema: the SDL in `schema/*.graphql` (the public contract) joined to the
 * resolvers. The SDL is read once at start-up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { isScalarType, isSpecifiedScalarType, Kind, type GraphQLSchema } from 'graphql';
import { resolvers } from './resolvers';

/** `schema/` at the project root, from `src/graphql/` and from `dist/graphql/` alike. */
export const SCHEMA_DIR = resolve(__dirname, '..', '..', 'schema');

export function readTypeDefs(dir: string = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(join(dir, file), 'utf8'));
}

/**
 * The served schema says exactly what the SDL says: graphql-scalars' resolvers bring their own
 * descriptions and `@specifiedBy` URLs, which would otherwise replace the SDL's (introspection
 * would then show a contract the file does not have).
 */
export function buildSchema(): GraphQLSchema {
  const schema = makeExecutableSchema({ typeDefs: readTypeDefs(), resolvers });
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isScalarType(type) || isSpecifiedScalarType(type)) continue;
    const specifiedBy = type.astNode?.directives?.find((directive) => directive.name.value === 'specifiedBy');
    const url = specifiedBy?.arguments?.find((argument) => argument.name.value === 'url')?.value;
    type.description = type.astNode?.description?.value;
    type.specifiedByURL = url?.kind === Kind.STRING ? url.value : undefined;
  }
  return schema;
}
