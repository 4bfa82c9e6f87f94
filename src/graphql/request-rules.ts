/**
 * What a GraphQL request over HTTP must satisfy before anything runs it, written once for every
 * door: Apollo (`apollo.ts`) and the compiled path (`fast-path.ts`) take their parse options,
 * validation rules (introspection among them), CSRF rule and batching rule from here, so neither
 * can answer a request the other refuses. The compiled path applies the document rules itself
 * and takes only requests the request rules let through as they are (see fast-path.ts).
 *
 * Cost is bounded before a document is compiled or executed:
 * - `maxTokens` stops the parser itself, so a huge document costs only its lexing;
 * - depth and the number of fields (aliases and fragment spreads expanded, each fragment
 *   measured once) are checked by one validation rule in linear time, so a fragment bomb is
 *   refused without being expanded;
 * - how many sessions one request reads is bounded where they are read (`context.ts`).
 */
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxFields: number;
}

export interface RequestRules {
  readonly parseOptions: ParseOptions;
  /** The rules beyond graphql-js's `specifiedRules` (what Apollo's `validationRules` takes). */
  readonly extraRules: readonly ValidationRule[];
  /** Every rule a document is validated with. */
  readonly allRules: readonly ValidationRule[];
  /**
   * Whether introspection is allowed. Off, it is refused by a validation rule in `extraRules`
   * (NoSchemaIntrospectionCustomRule), so both doors refuse it from the same definition.
   */
  readonly introspection: boolean;
  /**
   * Apollo's CSRF prevention: a request a browser may send cross-site without a preflight (a GET,
   * or a POST of a "simple" content type) is refused unless it carries one of these headers.
   */
  readonly csrfRequestHeaders: readonly string[];
  /** Operation batching (an array of operations in one request): off, one operation per request. */
  readonly batching: false;
  /** Automatic persisted queries: off (PERSISTED_QUERY_NOT_SUPPORTED): send the query text. */
  readonly persistedQueries: false;
}

/**
 * The rules for requests arriving over HTTP (queries and mutations; subscriptions have
 * WebSocket). `sessionHeader` is the session header as configured.
 */
export function httpRequestRules(limits: QueryLimits, introspection: boolean, sessionHeader: string): RequestRules {
  const extraRules = [
    queryCostRule(limits),
    noSubscriptionOverHttpRule,
    ...(introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  return {
    parseOptions: { maxTokens: limits.maxTokens, noLocation: false },
    extraRules,
    allRules: [...specifiedRules, ...extraRules],
    introspection,
    // A browser sends a cross-site GET without a preflight only when it carries no custom
    // header: the session header and Authorization force one, so they make a GET safe (urql
    // and Apollo Client send queries as GET with them). A cookie-only GET stays refused.
    csrfRequestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', sessionHeader.toLowerCase(), 'authorization'],
    batching: false,
    persistedQueries: false,
  };
}

const noSubscriptionOverHttpRule: ValidationRule = (context: ValidationContext): ASTVisitor => ({
  OperationDefinition(node) {
    if (node.operation !== 'subscription') return;
    context.reportError(
      new GraphQLError('subscriptions are served over WebSocket only (graphql-transport-ws protocol at /graphql), not over HTTP', { nodes: node }),
    );
  },
});

interface Measure {
  readonly depth: number;
  readonly fields: number;
}

const NOTHING: Measure = { depth: 0, fields: 0 };

/**
 * Depth and field count of every operation, fragments followed. Each fragment is measured once
 * (memoised), so the work is linear in the document's size however often fragments are spread;
 * a fragment cycle (reported by graphql-js's own NoFragmentCycles) counts as nothing here.
 */
export function queryCostRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    Document(document) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const measured = new Map<string, Measure>();
      const measuring = new Set<string>();
      // Counting stops a little past the limit: the numbers need not grow with a bomb's size.
      const cap = limits.maxFields + 1;

      const measure = (selectionSet: SelectionSetNode): Measure => {
        let depth = 0;
        let fields = 0;
        for (const selection of selectionSet.selections) {
          let inner: Measure;
          if (selection.kind === Kind.FIELD) {
            const below = selection.selectionSet === undefined ? NOTHING : measure(selection.selectionSet);
            inner = { depth: below.depth + 1, fields: below.fields + 1 };
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            inner = measure(selection.selectionSet);
          } else {
            inner = fragment(selection.name.value);
          }
          depth = Math.max(depth, inner.depth);
          fields = Math.min(cap, fields + inner.fields);
        }
        return { depth, fields };
      };

      const fragment = (name: string): Measure => {
        const known = measured.get(name);
        if (known !== undefined) return known;
        const definition = fragments.get(name);
        if (definition === undefined || measuring.has(name)) return NOTHING;
        measuring.add(name);
        const result = measure(definition.selectionSet);
        measuring.delete(name);
        measured.set(name, result);
        return result;
      };

      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const { depth, fields } = measure(definition.selectionSet);
        const name = definition.name === undefined ? 'the operation' : `operation "${definition.name.value}"`;
        if (depth > limits.maxDepth) {
          context.reportError(new GraphQLError(`${name} nests fields ${depth} deep; at most ${limits.maxDepth} is allowed (MAX_QUERY_DEPTH)`, { nodes: definition }));
        }
        if (fields > limits.maxFields) {
          context.reportError(
            new GraphQLError(`${name} selects more than ${limits.maxFields} fields, aliases and fragments expanded (MAX_QUERY_FIELDS)`, { nodes: definition }),
          );
        }
      }
      return false; // everything is measured; nothing below needs visiting by this rule
    },
  });
}
