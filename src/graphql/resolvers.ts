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
import { cookieMaxAgeSeconds } from '../session/transport';
import type { ChangeEvent } from '../session/changes';
import { changeStream } from './change-stream';
import type { MutationResolvers, QueryResolvers, Resolvers, SessionResolvers, SessionTokenResolvers, SignedInSessionResolvers, SubscriptionResolvers } from './generated';
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
  absoluteExpiresAt: (session) => (session.absoluteExpiresAtMs === null ? null : new Date(session.absoluteExpiresAtMs)),
  authenticatedAt: (session) => (session.authenticatedAtMs === null ? null : new Date(session.authenticatedAtMs)),
  maxInactiveInterval: (session) => session.maxInactiveSeconds,
};

const SignedInSession: SignedInSessionResolvers = {
  createdAt: (summary) => new Date(summary.createdAtMs),
  lastAccessedAt: (summary) => new Date(summary.lastAccessedAtMs),
  expiresAt: (summary) => new Date(summary.expiresAtMs),
  authenticatedAt: (summary) => (summary.authenticatedAtMs === null ? null : new Date(summary.authenticatedAtMs)),
};

const session: QueryResolvers['session'] = (_, __, context) => {
  const id = context.caller.sessionId;
  if (id === null) return null;
  return context.sessions.load(id).then((record) => {
    // An ID rotated away, read in its grace: the answer is the new session; tell the caller its ID.
    if (record !== null && record.id !== id) {
      context.announceSessionId(record.id);
      if (!context.caller.service) context.sessionCookie.set(record.id, cookieMaxAgeSeconds(record, record.lastAccessedAtMs));
    }
    return record;
  });
};

const SessionToken: SessionTokenResolvers = {
  tokenType: () => 'Bearer',
  expiresAt: (issued) => new Date(issued.expiresAtMs),
};

const sessionToken: QueryResolvers['sessionToken'] = (_, args, context) => context.service.sessionToken(context.caller, args.id, args.audience);

const mySessions: QueryResolvers['mySessions'] = (_, __, context) => context.service.mySessions(context.caller);

const sessionsOf: QueryResolvers['sessionsOf'] = (_, args, context) => context.service.sessionsOf(context.caller, args.principal);

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
  if (args.handle !== undefined && args.handle !== null) {
    if (args.id !== undefined && args.id !== null) throw new GatewayError('BAD_USER_INPUT', 'revokeSession takes an id or a handle, not both');
    return context.service.revokeByHandle(context.caller, args.handle);
  }
  const id = args.id ?? context.caller.sessionId;
  const removed = await context.service.revoke(context.caller, args.id);
  if (id !== null) context.sessions.clear(id).prime(id, null);
  // A frontend (no service token) may revoke only its own session: that is its logout, and its
  // browser drops the cookie too, whether or not the session was still there. A service's revoke
  // answers a module, not the user's browser, and leaves cookies alone.
  if (!context.caller.service) context.sessionCookie.clear();
  return removed;
};

const rotate: MutationResolvers['rotateSession'] = async (_, args, context) => {
  const old = args.id ?? context.caller.sessionId;
  const record = await context.service.rotate(context.caller, args.id, args.input, context.caller.service ? undefined : context.requestDevice());
  if (old !== null) context.sessions.clear(old).prime(old, null);
  context.sessions.prime(record.id, record);
  context.announceSessionId(record.id);
  // A frontend rotating its own session is a browser: its cookie follows. A service's rotation
  // (a sign-in) answers the module, which hands the new ID to the browser itself.
  if (!context.caller.service) context.sessionCookie.set(record.id, cookieMaxAgeSeconds(record, record.lastAccessedAtMs));
  return record;
};

const revokeOthers: MutationResolvers['revokeOtherSessions'] = (_, __, context) => context.service.revokeOthers(context.caller);

const revokePrincipal: MutationResolvers['revokePrincipalSessions'] = (_, args, context) => context.service.revokePrincipal(context.caller, args.principal);

const takeCacheLease: MutationResolvers['takeCacheLease'] = (_, __, context) => context.service.takeCacheLease(context.caller);
const renewCacheLease: MutationResolvers['renewCacheLease'] = (_, args, context) => context.service.renewCacheLease(context.caller, args.name);
const confirmRevocations: MutationResolvers['confirmRevocations'] = (_, args, context) => context.service.confirmRevocations(context.caller, args.lease, args.digests);
const releaseCacheLease: MutationResolvers['releaseCacheLease'] = (_, args, context) => context.service.releaseCacheLease(context.caller, args.name);

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
  SignedInSession,
  SessionToken,
  Query: { session, sessions, mySessions, sessionsOf, sessionToken },
  Mutation: {
    issueSession: issue,
    updateSession: update,
    revokeSession: revoke,
    rotateSession: rotate,
    revokeOtherSessions: revokeOthers,
    revokePrincipalSessions: revokePrincipal,
    takeCacheLease,
    renewCacheLease,
    confirmRevocations,
    releaseCacheLease,
  },
  Subscription,
};
