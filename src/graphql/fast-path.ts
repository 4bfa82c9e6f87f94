/**
 * The hot path for GraphQL queries. Nearly every request a gateway serves is one of a handful of
 * read queries sent again and again; Apollo's per-request pipeline (hashing the document, plugin
 * hooks, header maps, response negotiation) costs several times the work of executing one. So a
 * POST whose document was already parsed and validated here, and whose operation is a query, is
 * compiled once into a plain function (graphql-jit) and run against the same schema, the same
 * context and the same error formatting, and answered as Apollo would answer it.
 *
 * It is a branch of the one pipeline, not a copy of it: it takes every rule from the definition
 * Apollo is given (request-rules.ts) and decides none of its own. It parses with the same
 * options and validates with the same rules (cost limits, introspection when it is off, no
 * subscriptions over HTTP), takes its status and media type from response-status.ts, and formats
 * errors with Apollo's formatter (error-format.ts). The request rules Apollo applies before it
 * reads a document (CSRF prevention, batching, persisted queries) let through, as they are, the
 * only requests this path takes, and it leaves the rest to Apollo (see `eligible`). What is left
 * here is which executor runs a request, never whether it may run: a request it cannot take is
 * left to Apollo, never refused here. test/graphql/fast-path*.test.ts hold it to that.
 *
 * Everything else goes to Apollo unchanged: GET, mutations, subscriptions, introspection,
 * documents that fail to parse or validate, batches, persisted-query extensions, and requests
 * whose caller cannot be resolved (a wrong token: Apollo answers it).
 */
import type { FastifyRequest } from 'fastify';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import {
  BREAK,
  GraphQLError,
  Kind,
  parse,
  validate,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { GatewayError } from '../errors';
import type { GraphQLContext } from './context';
import type { RequestRules } from './request-rules';
import { graphqlStatus, responseMediaType, type ResponseMediaType } from './response-status';
import { stringifyWithStoredJson } from './stored-json';

/** Documents remembered; past this the cache starts over (a fleet sends a few dozen at most). */
const MAX_DOCUMENTS = 500;

interface QueryBody {
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

/** An eligible request: its body and the media type its answer takes. */
export interface EligibleRequest {
  readonly body: QueryBody;
  readonly media: ResponseMediaType;
}

/** A query the fast path has parsed and validated, with what the request log says of it. */
export interface PreparedQuery {
  readonly compiled: CompiledQuery;
  /** The metrics label of the operation (see operation-label.ts). */
  readonly label: string;
  /** The operation's own name, if it has one. */
  readonly name: string | null;
}

export interface FastAnswer {
  readonly status: number;
  readonly media: ResponseMediaType;
  readonly body: string;
  /** The code of the first error, for the request log; null when there is none. */
  readonly errorCode: string | null;
}

export type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

export class QueryFastPath {
  /** Document text (+ operation name) → the prepared query, or null: "leave it to Apollo". */
  private readonly documents = new Map<string, PreparedQuery | null>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: RequestRules,
    private readonly formatError: ErrorFormatter,
    private readonly labelOf: (operation: OperationDefinitionNode) => string,
  ) {}

  /**
   * The request, if it is one the fast path may answer; otherwise undefined (Apollo's).
   *
   * Only a POST of `application/json`: a browser must preflight it, so the CSRF rule
   * (`rules.csrfRequestHeaders`) lets it through whatever its headers; a GET, where that rule
   * bites, is always Apollo's. Only one operation without extensions: a batch is Apollo's to
   * refuse (`rules.batching`), and so is a persisted query (`rules.persistedQueries`).
   */
  eligible(request: FastifyRequest): EligibleRequest | undefined {
    if (request.method !== 'POST') return undefined;
    const media = responseMediaType(request.headers.accept);
    if (media === null) return undefined;
    const contentType = request.headers['content-type'];
    if (contentType === undefined || !contentType.startsWith('application/json')) return undefined;
    const body = request.body as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    if (typeof body.query !== 'string' || body.extensions !== undefined) return undefined;
    if (body.operationName !== undefined && body.operationName !== null && typeof body.operationName !== 'string') return undefined;
    const variables = body.variables;
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    return { body: body as unknown as QueryBody, media };
  }

  /** The validated query for this body, or null when Apollo should take it. */
  prepared(body: QueryBody): PreparedQuery | null {
    const key = body.operationName ? `${body.operationName}\u0000${body.query}` : body.query;
    let prepared = this.documents.get(key);
    if (prepared === undefined) {
      prepared = this.prepare(body);
      if (this.documents.size >= MAX_DOCUMENTS) this.documents.clear();
      this.documents.set(key, prepared);
    }
    return prepared;
  }

  /**
   * Runs the query. Null when the request itself is wrong (variables that do not coerce):
   * nothing ran, and Apollo is left to answer it in its own words.
   */
  async answer(query: PreparedQuery, request: EligibleRequest, context: GraphQLContext): Promise<FastAnswer | null> {
    const result = await query.compiled.query(undefined, context, request.body.variables ?? undefined);
    return result.data === undefined ? null : this.serialize(result, request.media);
  }

  private prepare(body: QueryBody): PreparedQuery | null {
    let document: DocumentNode;
    try {
      document = parse(body.query, this.rules.parseOptions);
    } catch {
      return null; // Apollo parses it again and answers the syntax error
    }
    if (validate(this.schema, document, this.rules.allRules).length > 0) return null;
    // Not a rule but a choice of executor: introspection the rules allow (IDE on) is answered by
    // Apollo's. Where the rules refuse it, the validation above has, and this is not consulted:
    // a compiled path that skipped the rule would answer introspection, and the tests see it.
    if (this.rules.introspection && readsIntrospection(document)) return null;
    const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
    const operation = body.operationName
      ? operations.find((definition) => definition.name?.value === body.operationName)
      : operations.length === 1
        ? operations[0]
        : undefined;
    if (operation?.operation !== 'query') return null;
    const compiled = compileQuery(this.schema, document, body.operationName ?? undefined);
    if (!isCompiledQuery(compiled)) return null;
    return { compiled, label: this.labelOf(operation), name: operation.name?.value ?? null };
  }

  /** Mirrors Apollo: errors formatted by the same function, status from the errors' codes. */
  private serialize(result: ExecutionResult, media: ResponseMediaType): FastAnswer {
    // Execution started (there is data): the status does not depend on the errors.
    const status = graphqlStatus(media, true, 200);
    if (result.errors === undefined || result.errors.length === 0) {
      return { status, media, body: `${stringifyWithStoredJson({ data: result.data })}\n`, errorCode: null };
    }
    const errors = result.errors.map((error: GraphQLError) => {
      const original = error.originalError;
      const json = error.toJSON();
      const code = original instanceof GatewayError ? original.code : 'INTERNAL_SERVER_ERROR';
      return this.formatError({ ...json, extensions: { ...json.extensions, code } }, error);
    });
    const payload = { errors, data: result.data };
    const code = errors[0]?.extensions?.code;
    return { status, media, body: `${stringifyWithStoredJson(payload)}\n`, errorCode: typeof code === 'string' ? code : null };
  }
}

/** Whether a document selects `__schema` or `__type` anywhere (`__typename` is not introspection). */
function readsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}
