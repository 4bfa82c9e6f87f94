/**
 * Resolvers: the GraphQL face. Each hands its arguments and the caller to the session service
 * (sessions/service.ts), which applies the rights and rules; reads go through the request's
 * DataLoader, and writes prime it so later fields of the same request see the new state.
 *
 * Typed by `generated.ts` (from schema/*.graphql): a `Session` is a `SessionRecord` here, and a
 * schema change these resolvers do not follow fails `tsc`.
 */
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import { GatewayError } from '../errors';
import { changeStream, type ChangeEvent } from './change-stream';
import type { MutationResolvers, QueryResolvers, Resolvers, SessionResolvers, SubscriptionResolvers } from './generated';
import { StoredJson } from './stored-json';

const Session: SessionResolvers = {
  digest: (session) => session.digest,
  // The stored JSON text, never parsed on the way out (see stored-json.ts).
  attributes: (session) => StoredJson.ofAttributes(session.attributes),
  attribute: (session, args) => {
    const json = session.attributes.get(args.name);
    return json === undefined ? null : new StoredJson(json);
  },
  createdAt: (session) => new Date(session.createdAtMs),
  lastAccessedAt: (session) => new Date(session.lastAccessedAtMs),
  expiresAt: (session) => new Date(session.expiresAtMs),
  maxInactiveInterval: (session) => session.maxInactiveSeconds,
};

const session: QueryResolvers['session'] = (_, __, context) =>
  context.caller.sessionId === null ? null : context.sessions.load(context.caller.sessionId);

const sessions: QueryResolvers['sessions'] = (_, args, context) => {
  context.service.mayReadAny(context.caller, 'sessions');
  if (args.ids.length > context.sessionReadsLeft) {
    const max = context.limits.maxBatchIds;
    throw new GatewayError(
      'BAD_USER_INPUT',
      context.sessionReadsLeft === max
        ? `sessions(ids:) takes at most ${max} ids, got ${args.ids.length}`
        : `one request reads at most ${max} sessions over all its sessions(ids:) fields; this one asks for ${args.ids.length} more with ${context.sessionReadsLeft} left`,
    );
  }
  context.sessionReadsLeft -= args.ids.length;
  // IDs that are not well-formed answer null from the service, never looked up.
  return Promise.all(args.ids.map((id) => context.sessions.load(id)));
};

const issue: MutationResolvers['issueSession'] = async (_, args, context) => {
  const record = await context.service.issue(context.caller, args.input);
  context.sessions.prime(record.id, record);
  context.announceSessionId(record.id);
  return record;
};

const update: MutationResolvers['updateSession'] = async (_, args, context) => {
  const record = await context.service.update(context.caller, args.id, args.patch);
  context.sessions.clear(record.id).prime(record.id, record);
  return record;
};

const revoke: MutationResolvers['revokeSession'] = async (_, args, context) => {
  const id = args.id ?? context.caller.sessionId;
  const removed = await context.service.revoke(context.caller, args.id);
  if (id !== null) context.sessions.clear(id).prime(id, null);
  // A frontend (no service token) may revoke only its own session: that is its logout, and its
  // browser drops the cookie too, whether or not the session was still there. A service's revoke
  // answers a module, not the user's browser, and leaves cookies alone.
  if (!context.caller.service) context.sessionCookie.clear();
  return removed;
};

const Subscription: SubscriptionResolvers = {
  sessionChanges: {
    subscribe: (_, __, context) => {
      return changeStream(context.service.changesFor(context.caller));
    },
    resolve: (event: ChangeEvent) => event,
  },
};

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  JSONObject: JSONObjectResolver,
  Session,
  Query: { session, sessions },
  Mutation: { issueSession: issue, updateSession: update, revokeSession: revoke },
  Subscription,
};
