/**
 * Resolvers: the GraphQL face. Each checks who may call it (session/caller.ts), validates its
 * input once (session/model.ts), and talks to the store; reads go through the request's
 * DataLoader, and writes prime it so later fields of the same request see the new state.
 *
 * Typed by `generated.ts` (from schema/*.graphql): a `Session` is a `SessionRecord` here, and a
 * schema change these resolvers do not follow fails `tsc`.
 */
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import { GatewayError } from '../errors';
import { requireService, revokeTarget } from '../session/caller';
import { isWellFormedSessionId, sessionDigest } from '../session/ids';
import { issueSession } from '../session/issue';
import { sessionNotFound, validateNewSession, validatePatch } from '../session/model';
import { changeStream, type ChangeEvent } from './change-stream';
import type { MutationResolvers, QueryResolvers, Resolvers, SessionResolvers, SubscriptionResolvers } from './generated';
import { StoredJson } from './stored-json';

const Session: SessionResolvers = {
  digest: (session) => sessionDigest(session.id),
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
  requireService(context.caller, 'sessions');
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
  return Promise.all(args.ids.map((id) => (isWellFormedSessionId(id) ? context.sessions.load(id) : null)));
};

const issue: MutationResolvers['issueSession'] = async (_, args, context) => {
  requireService(context.caller, 'issueSession');
  const record = await issueSession(context.store, validateNewSession(args.input, context.limits));
  context.events.sessionIssued();
  context.sessions.prime(record.id, record);
  context.announceSessionId(record.id);
  return record;
};

const update: MutationResolvers['updateSession'] = async (_, args, context) => {
  requireService(context.caller, 'updateSession');
  const id = args.id ?? context.caller.sessionId;
  if (id === null) throw new GatewayError('BAD_USER_INPUT', 'updateSession needs an id, or a session ID in the session header');
  const patch = validatePatch(args.patch, context.limits);
  if (!isWellFormedSessionId(id)) throw sessionNotFound();
  const record = await context.store.update(id, patch);
  context.events.sessionUpdated();
  context.sessions.clear(id).prime(id, record);
  return record;
};

const revoke: MutationResolvers['revokeSession'] = async (_, args, context) => {
  const id = revokeTarget(context.caller, args.id);
  if (id === null) throw new GatewayError('BAD_USER_INPUT', 'revokeSession needs an id, or a session ID in the session header');
  if (!isWellFormedSessionId(id)) return false;
  const removed = await context.store.destroy(id);
  if (removed) context.events.sessionRevoked();
  context.sessions.clear(id).prime(id, null);
  return removed;
};

const Subscription: SubscriptionResolvers = {
  sessionChanges: {
    subscribe: (_, __, context) => {
      requireService(context.caller, 'sessionChanges');
      return changeStream(context.store.changes);
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
