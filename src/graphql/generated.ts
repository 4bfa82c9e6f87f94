/* Generated from schema/*.graphql by `npm run codegen`; do not edit. */
import type { StoredJson } from './stored-json';
import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { SessionRecord } from '../session/model';
import type { SessionSummary } from '../sessions/service';
import type { IssuedToken } from '../tokens/session-tokens';
import type { GraphQLContext } from './context';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An instant, as an ISO 8601 string in UTC (e.g. 2026-11-26T10:00:00.000Z). */
  DateTime: { input: Date | string; output: Date | string; }
  /** Any JSON value. */
  JSON: { input: unknown; output: unknown; }
  /** A JSON object. */
  JSONObject: { input: Record<string, unknown>; output: Record<string, unknown> | StoredJson; }
};

/** A near cache's lease: see takeCacheLease. */
export type CacheLease = {
  readonly __typename?: 'CacheLease';
  /** How long it lasts from the moment it was asked for, in milliseconds. */
  readonly durationMs: Scalars['Int']['output'];
  readonly name: Scalars['String']['output'];
};

/** What a session recorded of the device it was signed in from: for "where am I signed in". */
export type Device = {
  readonly __typename?: 'Device';
  /** The client's address, whole or cut to its network (DEVICE_ADDRESS). */
  readonly clientAddress?: Maybe<Scalars['String']['output']>;
  readonly userAgent?: Maybe<Scalars['String']['output']>;
};

/** Device data a module passes in when it issues or rotates a session on a user's behalf. */
export type DeviceInput = {
  /** An IPv4 or IPv6 address; recorded whole or cut to its network (DEVICE_ADDRESS). */
  readonly clientAddress?: InputMaybe<Scalars['String']['input']>;
  /** At most 512 bytes. */
  readonly userAgent?: InputMaybe<Scalars['String']['input']>;
};

export type IssueSessionInput = {
  readonly attributes?: InputMaybe<Scalars['JSONObject']['input']>;
  readonly device?: InputMaybe<DeviceInput>;
  /** Seconds of idleness before expiry; defaults to the gateway's SESSION_TIMEOUT. */
  readonly maxInactiveInterval?: InputMaybe<Scalars['Int']['input']>;
  /** Seconds the session may live however it is used; at most, and by default, SESSION_MAX_LIFETIME. */
  readonly maxLifetime?: InputMaybe<Scalars['Int']['input']>;
  readonly principal?: InputMaybe<Scalars['String']['input']>;
};

export type Mutation = {
  readonly __typename?: 'Mutation';
  /** Services only. The cache holding the lease dropped these sessions (by digest) on the REVOKED changes it heard. At most 1000 digests. */
  readonly confirmRevocations: Scalars['Boolean']['output'];
  /** Services only. Issues a new session; its ID is also in the X-Session-ID response header. */
  readonly issueSession: Session;
  /** Services only. Gives the lease up (the cache has stopped serving). */
  readonly releaseCacheLease: Scalars['Boolean']['output'];
  /** Services only. Renews the lease for another durationMs; false when it is no longer held (cut by a revocation it did not confirm in time, or ended): drop the cache and take a new lease. */
  readonly renewCacheLease: Scalars['Boolean']['output'];
  /** Revokes every session of the caller's principal but the one it presents; answers how many. */
  readonly revokeOtherSessions: Scalars['Int']['output'];
  /**
   * Services only. Revokes every session of the principal: when it returns, no session of theirs
   * that existed when it began can be read through any gateway. Answers how many.
   */
  readonly revokePrincipalSessions: Scalars['Int']['output'];
  /**
   * A service may revoke any session; a frontend only its own (logout), or, by handle, another
   * session of its own principal. True if a session was removed.
   */
  readonly revokeSession: Scalars['Boolean']['output'];
  /**
   * A new ID for the session, keeping its attributes and history (version counts on). id defaults to
   * the X-Session-ID session; a frontend may rotate only its own. The new ID is also in the
   * X-Session-ID response header. The old ID stops working at once (or, with ROTATION_GRACE_SECONDS,
   * answers reads with the new ID in X-Session-ID for that long, and never accepts writes).
   */
  readonly rotateSession: Session;
  /**
   * Services only: a lease for a near cache (the client library's), taken once its sessionChanges
   * stream is confirmed. The cache serves only while it holds one; every revocation then waits
   * until it has confirmed (confirmRevocations) or its lease has ended, so none is served after a
   * revocation returned. Renew it (renewCacheLease) well within durationMs.
   */
  readonly takeCacheLease: CacheLease;
  /** Services only. Applies the patch atomically; id defaults to the X-Session-ID session. */
  readonly updateSession: Session;
};


export type MutationConfirmRevocationsArgs = {
  digests: ReadonlyArray<Scalars['String']['input']>;
  lease: Scalars['String']['input'];
};


export type MutationIssueSessionArgs = {
  input?: InputMaybe<IssueSessionInput>;
};


export type MutationReleaseCacheLeaseArgs = {
  name: Scalars['String']['input'];
};


export type MutationRenewCacheLeaseArgs = {
  name: Scalars['String']['input'];
};


export type MutationRevokePrincipalSessionsArgs = {
  principal: Scalars['String']['input'];
};


export type MutationRevokeSessionArgs = {
  handle?: InputMaybe<Scalars['String']['input']>;
  id?: InputMaybe<Scalars['ID']['input']>;
};


export type MutationRotateSessionArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<RotateSessionInput>;
};


export type MutationUpdateSessionArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  patch: SessionPatch;
};

export type Query = {
  readonly __typename?: 'Query';
  /**
   * The sessions of the principal the caller's own session belongs to, most recently used first,
   * the current one marked; empty for a session without a principal.
   */
  readonly mySessions: ReadonlyArray<SignedInSession>;
  /** The caller's own session, from the X-Session-ID header (or the session cookie); null if none or expired. */
  readonly session?: Maybe<Session>;
  /**
   * A short-lived signed token (a JWT, verified against /.well-known/jwks.json) for a session, for
   * modules that check callers with their framework's JWT support. A frontend gets one for its own
   * session; a service for any (id), or the one it presents. audience: one of SESSION_TOKEN_AUDIENCES
   * (default: the first). SESSION_NOT_FOUND when the session is gone.
   */
  readonly sessionToken: SessionToken;
  /** Services only. Sessions in the order of ids; null where missing, expired or malformed. */
  readonly sessions: ReadonlyArray<Maybe<Session>>;
  /** Services only. The live sessions of a principal, most recently used first. */
  readonly sessionsOf: ReadonlyArray<SignedInSession>;
};


export type QuerySessionTokenArgs = {
  audience?: InputMaybe<Scalars['String']['input']>;
  id?: InputMaybe<Scalars['ID']['input']>;
};


export type QuerySessionsArgs = {
  ids: ReadonlyArray<Scalars['ID']['input']>;
};


export type QuerySessionsOfArgs = {
  principal: Scalars['String']['input'];
};

/** Why a session was revoked. */
export type RevokeReason =
  /** MAX_SESSIONS_PER_PRINCIPAL made room for a newer session. */
  | 'EVICTED'
  /** The session revoked itself (logout). */
  | 'LOGOUT'
  /** A service revoked every session of its principal. */
  | 'PRINCIPAL_REVOKED'
  /** A service revoked it. */
  | 'REVOKED_BY_SERVICE'
  /** Its principal revoked it from another of their sessions. */
  | 'REVOKED_BY_USER'
  /** It was given a new ID (announced as ISSUED beside this). */
  | 'ROTATED';

export type RotateSessionInput = {
  /** Services only. The principal has just authenticated again: sets authenticatedAt, and the lifetime starts again. */
  readonly authenticated?: InputMaybe<Scalars['Boolean']['input']>;
  /** Services only. The device signing in; a frontend's is taken from its request. */
  readonly device?: InputMaybe<DeviceInput>;
  /**
   * Services only. Sign the session in as this principal (the log-in case): the new ID carries the
   * principal's tag, and the session's lifetime starts again.
   */
  readonly principal?: InputMaybe<Scalars['String']['input']>;
};

/**
 * A session: who it belongs to and what modules keep in it, kept in Redis and shared by every
 * gateway instance. Its ID is a bearer secret: whoever presents it is the session's owner.
 */
export type Session = {
  readonly __typename?: 'Session';
  /** When the session's lifetime ends however it is used (SESSION_MAX_LIFETIME); null for none. */
  readonly absoluteExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** One attribute; null when absent. */
  readonly attribute?: Maybe<Scalars['JSON']['output']>;
  /** Every attribute, by name. */
  readonly attributes: Scalars['JSONObject']['output'];
  /** When its principal last authenticated (issued with a principal, or rotated at sign-in); null if never. */
  readonly authenticatedAt?: Maybe<Scalars['DateTime']['output']>;
  readonly createdAt: Scalars['DateTime']['output'];
  /** What the session recorded of the device it was signed in from. */
  readonly device: Device;
  /**
   * The session's public handle: its tag (the ID's first 4 characters) and the SHA-256 of the ID,
   * unpadded base64url. The name it goes by in sessionChanges, mySessions and sessionsOf; never
   * enough to present the session.
   */
  readonly digest: Scalars['String']['output'];
  /** When the session expires unless it is used before then; never after absoluteExpiresAt. */
  readonly expiresAt: Scalars['DateTime']['output'];
  /** The session ID (43 base64url characters). Send it back in the X-Session-ID header. */
  readonly id: Scalars['ID']['output'];
  /** When the session was last read or written, to within the gateway's touch interval. */
  readonly lastAccessedAt: Scalars['DateTime']['output'];
  /** Seconds of idleness after which the session expires. */
  readonly maxInactiveInterval: Scalars['Int']['output'];
  /** Who the session belongs to (a user id), if anyone has signed in. */
  readonly principal?: Maybe<Scalars['String']['output']>;
  /** Bumps on every change (not on reads); pass it as expectedVersion for optimistic concurrency. */
  readonly version: Scalars['Int']['output'];
};


/**
 * A session: who it belongs to and what modules keep in it, kept in Redis and shared by every
 * gateway instance. Its ID is a bearer secret: whoever presents it is the session's owner.
 */
export type SessionAttributeArgs = {
  name: Scalars['String']['input'];
};

/**
 * One change to one session. Never the ID itself: the digest (see Session.digest), by which a
 * client keys its cache. Reads and touches are not changes.
 */
export type SessionChange = {
  readonly __typename?: 'SessionChange';
  /** Empty for SUBSCRIBED. */
  readonly digest: Scalars['String']['output'];
  readonly kind: SessionChangeKind;
  /** Why, for REVOKED; null otherwise. */
  readonly reason?: Maybe<RevokeReason>;
  /** The session's version after the change; a revoke counts as one past the last version. 0 for SUBSCRIBED. */
  readonly version: Scalars['Int']['output'];
};

/** How a session changed. */
export type SessionChangeKind =
  | 'ISSUED'
  /** Revoked (logged out). Expiry by idle timeout is not announced: a session's expiresAt says when. */
  | 'REVOKED'
  /** The first event of every subscription: from this event on, every change is delivered. */
  | 'SUBSCRIBED'
  | 'UPDATED';

export type SessionPatch = {
  /** If given and not the session's current version: VERSION_CONFLICT, and nothing is written. */
  readonly expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  readonly maxInactiveInterval?: InputMaybe<Scalars['Int']['input']>;
  /**
   * Must be the session's principal already (or omitted): a principal is set by issueSession or
   * rotateSession, which gives a new ID; changing it under the same ID would allow session fixation.
   * @deprecated Use rotateSession(input: { principal }) to sign a session in.
   */
  readonly principal?: InputMaybe<Scalars['String']['input']>;
  /** Attributes to set; attributes not named are left as they are. */
  readonly set?: InputMaybe<Scalars['JSONObject']['input']>;
  /** Attributes to remove. */
  readonly unset?: InputMaybe<ReadonlyArray<Scalars['String']['input']>>;
};

/** A signed session token: a JWT whose sid is the session's handle (never its ID). */
export type SessionToken = {
  readonly __typename?: 'SessionToken';
  /** The token's aud. */
  readonly audience: Scalars['String']['output'];
  /** The token's exp: at most SESSION_TOKEN_TTL from now, never past the session's own deadline. */
  readonly expiresAt: Scalars['DateTime']['output'];
  /** The JWT (compact JWS): send it as Authorization: Bearer to a module. */
  readonly token: Scalars['String']['output'];
  /** Always Bearer. */
  readonly tokenType: Scalars['String']['output'];
};

/**
 * One of a principal's sessions, as listed to the principal or a service: its public handle and
 * times, never its ID.
 */
export type SignedInSession = {
  readonly __typename?: 'SignedInSession';
  readonly authenticatedAt?: Maybe<Scalars['DateTime']['output']>;
  readonly createdAt: Scalars['DateTime']['output'];
  /** Whether it is the session this request presented. */
  readonly current: Scalars['Boolean']['output'];
  readonly device: Device;
  readonly expiresAt: Scalars['DateTime']['output'];
  /** The session's digest: pass it to revokeSession(handle:). */
  readonly handle: Scalars['String']['output'];
  readonly lastAccessedAt: Scalars['DateTime']['output'];
};

export type Subscription = {
  readonly __typename?: 'Subscription';
  /**
   * Services only, over WebSocket (graphql-transport-ws protocol) at /graphql, with the service
   * token as the upgrade request's Authorization header or as connectionParams.authorization.
   * Every change to every session, from any gateway instance, starting with one SUBSCRIBED event.
   * If the gateway loses its own connection to the change channel, the subscription ends with a
   * STORE_UNAVAILABLE error: changes may have been missed, and a client cache must be dropped.
   */
  readonly sessionChanges: SessionChange;
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  CacheLease: ResolverTypeWrapper<CacheLease>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  Device: ResolverTypeWrapper<Device>;
  DeviceInput: DeviceInput;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  IssueSessionInput: IssueSessionInput;
  JSON: ResolverTypeWrapper<Scalars['JSON']['output']>;
  JSONObject: ResolverTypeWrapper<Scalars['JSONObject']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RevokeReason: RevokeReason;
  RotateSessionInput: RotateSessionInput;
  Session: ResolverTypeWrapper<SessionRecord>;
  SessionChange: ResolverTypeWrapper<SessionChange>;
  SessionChangeKind: SessionChangeKind;
  SessionPatch: SessionPatch;
  SessionToken: ResolverTypeWrapper<IssuedToken>;
  SignedInSession: ResolverTypeWrapper<SessionSummary>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  CacheLease: CacheLease;
  DateTime: Scalars['DateTime']['output'];
  Device: Device;
  DeviceInput: DeviceInput;
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  IssueSessionInput: IssueSessionInput;
  JSON: Scalars['JSON']['output'];
  JSONObject: Scalars['JSONObject']['output'];
  Mutation: Record<PropertyKey, never>;
  Query: Record<PropertyKey, never>;
  RotateSessionInput: RotateSessionInput;
  Session: SessionRecord;
  SessionChange: SessionChange;
  SessionPatch: SessionPatch;
  SessionToken: IssuedToken;
  SignedInSession: SessionSummary;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
};

export type CacheLeaseResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['CacheLease'] = ResolversParentTypes['CacheLease']> = {
  durationMs?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type DeviceResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Device'] = ResolversParentTypes['Device']> = {
  clientAddress?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  userAgent?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export interface JsonScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSON'], any> {
  name: 'JSON';
}

export interface JsonObjectScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSONObject'], any> {
  name: 'JSONObject';
}

export type MutationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  confirmRevocations?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationConfirmRevocationsArgs, 'digests' | 'lease'>>;
  issueSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, Partial<MutationIssueSessionArgs>>;
  releaseCacheLease?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationReleaseCacheLeaseArgs, 'name'>>;
  renewCacheLease?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationRenewCacheLeaseArgs, 'name'>>;
  revokeOtherSessions?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  revokePrincipalSessions?: Resolver<ResolversTypes['Int'], ParentType, ContextType, RequireFields<MutationRevokePrincipalSessionsArgs, 'principal'>>;
  revokeSession?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, Partial<MutationRevokeSessionArgs>>;
  rotateSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, Partial<MutationRotateSessionArgs>>;
  takeCacheLease?: Resolver<ResolversTypes['CacheLease'], ParentType, ContextType>;
  updateSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<MutationUpdateSessionArgs, 'patch'>>;
};

export type QueryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  mySessions?: Resolver<ReadonlyArray<ResolversTypes['SignedInSession']>, ParentType, ContextType>;
  session?: Resolver<Maybe<ResolversTypes['Session']>, ParentType, ContextType>;
  sessionToken?: Resolver<ResolversTypes['SessionToken'], ParentType, ContextType, Partial<QuerySessionTokenArgs>>;
  sessions?: Resolver<ReadonlyArray<Maybe<ResolversTypes['Session']>>, ParentType, ContextType, RequireFields<QuerySessionsArgs, 'ids'>>;
  sessionsOf?: Resolver<ReadonlyArray<ResolversTypes['SignedInSession']>, ParentType, ContextType, RequireFields<QuerySessionsOfArgs, 'principal'>>;
};

export type SessionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Session'] = ResolversParentTypes['Session']> = {
  absoluteExpiresAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  attribute?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType, RequireFields<SessionAttributeArgs, 'name'>>;
  attributes?: Resolver<ResolversTypes['JSONObject'], ParentType, ContextType>;
  authenticatedAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  device?: Resolver<ResolversTypes['Device'], ParentType, ContextType>;
  digest?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  expiresAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  lastAccessedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  maxInactiveInterval?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  principal?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type SessionChangeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SessionChange'] = ResolversParentTypes['SessionChange']> = {
  digest?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['SessionChangeKind'], ParentType, ContextType>;
  reason?: Resolver<Maybe<ResolversTypes['RevokeReason']>, ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type SessionTokenResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SessionToken'] = ResolversParentTypes['SessionToken']> = {
  audience?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  expiresAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  token?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  tokenType?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type SignedInSessionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['SignedInSession'] = ResolversParentTypes['SignedInSession']> = {
  authenticatedAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  current?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  device?: Resolver<ResolversTypes['Device'], ParentType, ContextType>;
  expiresAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  handle?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  lastAccessedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  sessionChanges?: SubscriptionResolver<ResolversTypes['SessionChange'], "sessionChanges", ParentType, ContextType>;
};

export type Resolvers<ContextType = GraphQLContext> = {
  CacheLease?: CacheLeaseResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  Device?: DeviceResolvers<ContextType>;
  JSON?: GraphQLScalarType;
  JSONObject?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Session?: SessionResolvers<ContextType>;
  SessionChange?: SessionChangeResolvers<ContextType>;
  SessionToken?: SessionTokenResolvers<ContextType>;
  SignedInSession?: SignedInSessionResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
};

