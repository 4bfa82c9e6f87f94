/**
 * The executable schema: the SDL in `schema/*.graphql` (the public contract) joined to the
 * resolvers. The SDL is read once at start-up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { resolvers } from './resolvers';

/** `schema/` at the project root, from `src/graphql/` and from `dist/graphql/` alike. */
export const SCHEMA_DIR = resolve(__dirname, '..', '..', 'schema');

export function readTypeDefs(dir: string = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(join(dir, file), 'utf8'));
}

export function buildSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs: readTypeDefs(), resolvers });
}
