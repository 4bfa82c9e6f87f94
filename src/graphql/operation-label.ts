/**
 * The `operation` label of GraphQL requests in the request log and metrics: the root field an
 * operation runs. Bounded by the schema, unlike the client-chosen operation name (which only the
 * log line carries).
 */
import { Kind, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';

/** Every Query and Mutation field: the values the `operation` label takes besides `other`. */
export function rootFieldsOf(schema: GraphQLSchema): ReadonlySet<string> {
  return new Set([...Object.keys(schema.getQueryType()?.getFields() ?? {}), ...Object.keys(schema.getMutationType()?.getFields() ?? {})]);
}

/**
 * The root field an operation runs, when it runs exactly one of the schema's (aliases and
 * repeats allowed); otherwise `'other'`.
 */
export function operationLabel(operation: OperationDefinitionNode | undefined, rootFields: ReadonlySet<string>): string {
  let field: string | undefined;
  for (const selection of operation?.selectionSet.selections ?? []) {
    if (selection.kind !== Kind.FIELD || !rootFields.has(selection.name.value)) return 'other';
    if (field !== undefined && field !== selection.name.value) return 'other';
    field = selection.name.value;
  }
  return field ?? 'other';
}
