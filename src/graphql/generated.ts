/* Generated from schema/*.graphql by `npm run codegen`; do not edit. */
import type { StoredJson } from './stored-json';
import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { SessionRecord } from '../session/model';
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

export type IssueSessionInput = {
  readonly attributes?: InputMaybe<Scalars['JSONObject']['input']>;
  /** Seconds of idleness before expiry; defaults to the gateway's SESSION_TIMEOUT. */
  readonly maxInactiveInterval?: InputMaybe<Scalars['Int']['input']>;
  readonly principal?: InputMaybe<Scalars['String']['input']>;
};

export type Mutation = {
  readonly __typename?: 'Mutation';
  /** Services only. Issues a new session; its ID is also in the X-Session-ID response header. */
  readonly issueSession: Session;
  /** A service may revoke any session; a frontend only its own (logout). True if a session was removed. */
  readonly revokeSession: Scalars['Boolean']['output'];
  /** Services only. Applies the patch atomically; id defaults to the X-Session-ID session. */
  readonly updateSession: Session;
};


export type MutationIssueSessionArgs = {
  input?: InputMaybe<IssueSessionInput>;
};


export type MutationRevokeSessionArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
};


export type MutationUpdateSessionArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  patch: SessionPatch;
};

export type Query = {
  readonly __typename?: 'Query';
  /** The caller's own session, from the X-Session-ID header (or the session cookie); null if none or expired. */
  readonly session?: Maybe<Session>;
  /** Services only. Sessions in the order of ids; null where missing, expired or malformed. */
  readonly sessions: ReadonlyArray<Maybe<Session>>;
};


export type QuerySessionsArgs = {
  ids: ReadonlyArray<Scalars['ID']['input']>;
};

/**
 * A session: who it belongs to and what modules keep in it, kept in Redis and shared by every
 * gateway instance. Its ID is a bearer secret: whoever presents it is the session's owner.
 */
export type Session = {
  readonly __typename?: 'Session';
  /** One attribute; null when absent. */
  readonly attribute?: Maybe<Scalars['JSON']['output']>;
  /** Every attribute, by name. */
  readonly attributes: Scalars['JSONObject']['output'];
  readonly createdAt: Scalars['DateTime']['output'];
  /** SHA-256 of the ID, unpadded base64url: the name the session goes by in sessionChanges. */
  readonly digest: Scalars['String']['output'];
  /** When the session expires unless it is used before then. */
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
  /** The new principal; null clears it; omit to keep it. */
  readonly principal?: InputMaybe<Scalars['String']['input']>;
  /** Attributes to set; attributes not named are left as they are. */
  readonly set?: InputMaybe<Scalars['JSONObject']['input']>;
  /** Attributes to remove. */
  readonly unset?: InputMaybe<ReadonlyArray<Scalars['String']['input']>>;
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
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  IssueSessionInput: IssueSessionInput;
  JSON: ResolverTypeWrapper<Scalars['JSON']['output']>;
  JSONObject: ResolverTypeWrapper<Scalars['JSONObject']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Session: ResolverTypeWrapper<SessionRecord>;
  SessionChange: ResolverTypeWrapper<SessionChange>;
  SessionChangeKind: SessionChangeKind;
  SessionPatch: SessionPatch;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  DateTime: Scalars['DateTime']['output'];
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  IssueSessionInput: IssueSessionInput;
  JSON: Scalars['JSON']['output'];
  JSONObject: Scalars['JSONObject']['output'];
  Mutation: Record<PropertyKey, never>;
  Query: Record<PropertyKey, never>;
  Session: SessionRecord;
  SessionChange: SessionChange;
  SessionPatch: SessionPatch;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export interface JsonScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSON'], any> {
  name: 'JSON';
}

export interface JsonObjectScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSONObject'], any> {
  name: 'JSONObject';
}

export type MutationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  issueSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, Partial<MutationIssueSessionArgs>>;
  revokeSession?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, Partial<MutationRevokeSessionArgs>>;
  updateSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<MutationUpdateSessionArgs, 'patch'>>;
};

export type QueryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  session?: Resolver<Maybe<ResolversTypes['Session']>, ParentType, ContextType>;
  sessions?: Resolver<ReadonlyArray<Maybe<ResolversTypes['Session']>>, ParentType, ContextType, RequireFields<QuerySessionsArgs, 'ids'>>;
};

export type SessionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Session'] = ResolversParentTypes['Session']> = {
  attribute?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType, RequireFields<SessionAttributeArgs, 'name'>>;
  attributes?: Resolver<ResolversTypes['JSONObject'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
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
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  sessionChanges?: SubscriptionResolver<ResolversTypes['SessionChange'], "sessionChanges", ParentType, ContextType>;
};

export type Resolvers<ContextType = GraphQLContext> = {
  DateTime?: GraphQLScalarType;
  JSON?: GraphQLScalarType;
  JSONObject?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Session?: SessionResolvers<ContextType>;
  SessionChange?: SessionChangeResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
};

