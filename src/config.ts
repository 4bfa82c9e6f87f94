/**
 * Environment → one frozen, typed `Config`. This is the only module that reads `process.env`;
 * everything else receives the `Config` (or the part of it it needs) as an argument, so a test
 * can build two gateways with two configs in one process.
 *
 * Every variable is checked once here. A bad value stops start-up with a message that names the
 * variable, says what was expected and shows what came.
 */
import { sessionCookieRuleBroken, type SameSite, type SessionCookie } from './session/transport';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Which Redis, and how to reach it; `undefined` selects the embedded in-memory store. */
  readonly redis: RedisConfig | undefined;
  /** Milliseconds one Redis command may take before it fails with STORE_UNAVAILABLE. */
  readonly redisCommandTimeoutMs: number;
  /** Default idle timeout of a session, in seconds. */
  readonly sessionTimeoutSeconds: number;
  /** A read writes the sliding expiry at most once per this many seconds per session. */
  readonly touchIntervalSeconds: number;
  /** Header that carries the session ID both ways (matched case-insensitively). */
  readonly sessionHeader: string;
  /** Cookie a browser may present the session ID in, when the header is absent. */
  readonly sessionCookie: string;
  /**
   * The session cookie the gateway sets for browsers and clears on logout, with its attributes
   * (SESSION_COOKIE_SET=true and the SESSION_COOKIE_* variables); null: it never sets one, it
   * only reads it.
   */
  readonly sessionCookieSet: SessionCookie | null;
  readonly serviceTokens: readonly string[];
  /** Origins allowed to call from a browser; `'*'` for any; empty for same-origin only. */
  readonly corsOrigins: readonly string[] | '*';
  /** Prefix of every Redis key the gateway writes. */
  readonly sessionNamespace: string;
  /** The attribute the REST shim answers with. */
  readonly legacyAttribute: string;
  /** Total bytes of attribute names and JSON values one session may hold. */
  readonly maxAttributeBytes: number;
  /** Most session ids one GraphQL request may read, over all its `sessions(ids:)` fields. */
  readonly maxBatchIds: number;
  /** Most lexical tokens a GraphQL document may have: checked while parsing, before anything else. */
  readonly maxQueryTokens: number;
  /** Deepest field nesting an operation may reach, fragments followed. */
  readonly maxQueryDepth: number;
  /** Most fields an operation may select, aliases and fragments expanded. */
  readonly maxQueryFields: number;
  /** Milliseconds a client has to send a whole request (headers and body), else 408. */
  readonly httpRequestTimeoutMs: number;
  /** Milliseconds a connection may stay silent before it is closed (not WebSockets). */
  readonly httpIdleTimeoutMs: number;
  /** Open connections one gateway process accepts; more are refused at once. */
  readonly httpMaxConnections: number;
  /**
   * Milliseconds a SIGTERM/SIGINT drain may take: after this the remaining connections are cut
   * and the process exits with status 1.
   */
  readonly shutdownTimeoutMs: number;
  readonly nodeEnv: string;
  readonly production: boolean;
  /** Serve the GraphQL IDE at `GET /graphql` (browsers) and answer introspection. */
  readonly playground: boolean;
  readonly logLevel: string;
  readonly lifecycle: LifecycleConfig;
  /** SESSION_CACHE: the gateway's own near cache of sessions read; null when off (the default). */
  readonly sessionCache: SessionCacheConfig | null;
  /**
   * SESSION_CACHE_LEASE_MS: how long a cache's lease lasts (redis-leases.ts), so the longest a
   * revocation waits for a cache that does not confirm, and how soon a cache whose change feed
   * froze stops serving. Read with the cache off too: such a gateway still revokes, and waits
   * this long when it cannot read the leases. Every gateway on one namespace should share it.
   */
  readonly cacheLeaseMs: number;
  /**
   * OpenTelemetry tracing, from the standard OTEL_* variables; null (the default) when no OTLP
   * endpoint is configured, OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: then no SDK is
   * loaded at all (see tracing.ts).
   */
  readonly tracing: TracingConfig | null;
  /** Signed session tokens (JWT), their keys and their claims (SESSION_TOKEN_*). */
  readonly sessionTokens: SessionTokenConfig;
}

/**
 * Which traces are kept (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG), as the OpenTelemetry
 * specification defines the values: `root` decides for a trace that starts here; with
 * `parentBased`, a request that arrives with a W3C `traceparent` follows its caller's decision.
 */
export interface TraceSampler {
  readonly root: 'always_on' | 'always_off' | 'traceidratio';
  readonly parentBased: boolean;
  /** The share of root traces kept by `traceidratio`, 0 to 1 (1 for the others). */
  readonly ratio: number;
}

/** OpenTelemetry tracing: where spans go, what the gateway is called there, which are kept. */
export interface TracingConfig {
  /**
   * The OTLP/HTTP (JSON) traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
   * OTEL_EXPORTER_OTLP_ENDPOINT with `/v1/traces` appended.
   */
  readonly tracesUrl: string;
  /** OTEL_EXPORTER_OTLP_HEADERS, then OTEL_EXPORTER_OTLP_TRACES_HEADERS over it (e.g. an API key). */
  readonly headers: Readonly<Record<string, string>>;
  /** OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT: milliseconds one export may take. */
  readonly exportTimeoutMs: number;
  /** OTEL_SERVICE_NAME, else `service.name` of OTEL_RESOURCE_ATTRIBUTES, else `session-gateway`. */
  readonly serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES: more resource attributes (e.g. `deployment.environment.name=prod`). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: TraceSampler;
  /** The batch span processor (OTEL_BSP_*): spans are exported in batches, off the request path. */
  readonly batch: SpanBatchConfig;
}

export interface SpanBatchConfig {
  /** OTEL_BSP_SCHEDULE_DELAY: milliseconds between two exports. */
  readonly scheduledDelayMs: number;
  /** OTEL_BSP_EXPORT_TIMEOUT: milliseconds an export of a batch may take. */
  readonly exportTimeoutMs: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE: spans waiting for export; past it new spans are dropped. */
  readonly maxQueueSize: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export (at most the queue size). */
  readonly maxExportBatchSize: number;
}

/** Session tokens: short-lived JWTs for a session, verified by modules against the JWKS. */
export interface SessionTokenConfig {
  /** SESSION_TOKEN_TTL: the longest a token lives, in seconds (never past its session's deadline). */
  readonly ttlSeconds: number;
  /** SESSION_TOKEN_KEY_ROTATION: seconds a signing key signs before the next one takes over. */
  readonly keyRotationSeconds: number;
  /** SESSION_TOKEN_ALG: ES256 (P-256, the default) or EdDSA (Ed25519). */
  readonly algorithm: 'ES256' | 'EdDSA';
  /** SESSION_TOKEN_ISSUER: the `iss` of every token. */
  readonly issuer: string;
  /** SESSION_TOKEN_AUDIENCES: the audiences a token may be asked for; the first is the default. */
  readonly audiences: readonly string[];
  /** SESSION_TOKEN_CLAIMS: session attributes copied into a token as claims of the same name. */
  readonly claims: readonly string[];
}

/** The gateway's near cache (SESSION_CACHE=on): bounded both ways, least recently used out first. */
export interface SessionCacheConfig {
  /** SESSION_CACHE_MAX_ENTRIES */
  readonly maxEntries: number;
  /** SESSION_CACHE_MAX_BYTES: the sessions' approximate size in memory. */
  readonly maxBytes: number;
}

/** How sessions live and die: lifetime, rotation, per-principal limits, device data. */
export interface LifecycleConfig {
  /** SESSION_MAX_LIFETIME: seconds a session lives however it is used (0: no limit); also the most a caller may ask for. */
  readonly maxLifetimeSeconds: number;
  /** ROTATION_GRACE_SECONDS: how long a rotated-away ID still answers reads (never writes) with the new ID. */
  readonly rotationGraceSeconds: number;
  /** MAX_SESSIONS_PER_PRINCIPAL: live sessions one principal may hold; 0 for no limit. */
  readonly maxSessionsPerPrincipal: number;
  /** SESSION_LIMIT_POLICY: at the limit, revoke the least recently used (`evict`) or refuse the new one (`refuse`). */
  readonly limitPolicy: 'evict' | 'refuse';
  /** DEVICE_ADDRESS: how much of a client's address a session records. */
  readonly deviceAddress: 'full' | 'network' | 'none';
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * One of three deployments: a single node (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`,
 * seed nodes; the rest are discovered) or a primary watched by Sentinel (`REDIS_SENTINELS` and
 * `REDIS_SENTINEL_NAME`). Exactly one of the three variables may be set.
 */
export type RedisTopology =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly HostPort[]; readonly primaryName: string };

export interface RedisConfig {
  readonly topology: RedisTopology;
  /** ACL user and password for the Redis nodes (a single node may carry them in its URL instead). */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Password of the sentinels themselves (Sentinel only), when they have `requirepass`. */
  readonly sentinelPassword: string | undefined;
  /** TLS to the nodes (Cluster, Sentinel; a single node says so with `rediss://`). */
  readonly tls: boolean;
  /** TLS to the sentinels. */
  readonly sentinelTls: boolean;
  /**
   * Which replicas a write must reach before it is acknowledged (`WAIT`, within the command
   * timeout): `all` (the default), every replica its primary has (see store/replica-acks.ts); a
   * number, exactly that many; 0 acknowledges what the primary has, which a failover can lose.
   */
  readonly ackReplicas: number | 'all';
}

export class ConfigError extends Error {
  constructor(variable: string, expected: string, got: string | undefined) {
    super(`${variable}: expected ${expected}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Seconds a session may be idle at most: 30 days. Also bounds per-session overrides. */
export const MAX_INACTIVE_SECONDS = 30 * 24 * 3600;
/** The longest absolute lifetime: 366 days. */
export const MAX_LIFETIME_SECONDS = 366 * 24 * 3600;
/** The most sessions a per-principal limit may allow: the limit's script reads them all. */
export const MAX_SESSIONS_LIMIT = 1000;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const COOKIE_NAME = HEADER_NAME;
const NAMESPACE = /^[A-Za-z0-9:_.-]{1,64}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MIN_TOKEN_LENGTH = 16;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  return value;
}

function matching(env: Env, name: string, fallback: string, pattern: RegExp, expected: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new ConfigError(name, expected, raw);
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, 'true or false', raw);
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function redisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'a URL such as redis://127.0.0.1:6379/0', raw);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', 'a redis:// or rediss:// URL', raw);
  }
  return raw;
}

function hostPorts(env: Env, name: string): HostPort[] {
  const items = list(env, name);
  if (items.length === 0) throw new ConfigError(name, 'comma-separated host:port pairs', env[name]);
  return items.map((item) => {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) throw new ConfigError(name, 'comma-separated host:port pairs such as 10.0.0.5:6379', item);
    return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
  });
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function redisTopology(env: Env): RedisTopology | undefined {
  const given = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'].filter((name) => optional(env, name) !== undefined);
  if (given.length > 1) {
    throw new ConfigError(given.join(' and '), 'one of REDIS_URL (a single node), REDIS_CLUSTER_NODES (a Cluster) or REDIS_SENTINELS (Sentinel)', 'several');
  }
  if (optional(env, 'REDIS_SENTINEL_NAME') !== undefined && given[0] !== 'REDIS_SENTINELS') {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'REDIS_SENTINELS beside it', undefined);
  }
  switch (given[0]) {
    case 'REDIS_URL':
      return { kind: 'single', url: redisUrl(env.REDIS_URL as string) };
    case 'REDIS_CLUSTER_NODES':
      return { kind: 'cluster', nodes: Object.freeze(hostPorts(env, 'REDIS_CLUSTER_NODES')) };
    case 'REDIS_SENTINELS': {
      const primaryName = optional(env, 'REDIS_SENTINEL_NAME');
      if (primaryName === undefined || !/^[\x21-\x7e]{1,128}$/.test(primaryName)) {
        throw new ConfigError('REDIS_SENTINEL_NAME', 'the name the sentinels monitor the primary by (e.g. mymaster)', primaryName);
      }
      return { kind: 'sentinel', sentinels: Object.freeze(hostPorts(env, 'REDIS_SENTINELS')), primaryName };
    }
    default:
      return undefined;
  }
}

/** A variable's value for an error message; a password is a secret, so only that one came. */
function shown(env: Env, name: string): string | undefined {
  return name.endsWith('PASSWORD') ? 'a password' : env[name];
}

function redisConfig(env: Env): RedisConfig | undefined {
  const topology = redisTopology(env);
  const connectionVariables = ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'REDIS_TLS', 'REDIS_SENTINEL_TLS', 'REDIS_ACK_REPLICAS'];
  if (topology === undefined) {
    const stray = connectionVariables.find((name) => optional(env, name) !== undefined);
    if (stray !== undefined) throw new ConfigError(stray, 'REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS beside it', shown(env, stray));
    return undefined;
  }
  for (const name of ['REDIS_SENTINEL_PASSWORD', 'REDIS_SENTINEL_TLS']) {
    if (optional(env, name) !== undefined && topology.kind !== 'sentinel') throw new ConfigError(name, 'REDIS_SENTINELS beside it', shown(env, name));
  }
  if (optional(env, 'REDIS_TLS') !== undefined && topology.kind === 'single') {
    throw new ConfigError('REDIS_TLS', 'a rediss:// REDIS_URL for TLS to a single node', env.REDIS_TLS);
  }
  return Object.freeze({
    topology,
    username: optional(env, 'REDIS_USERNAME'),
    password: optional(env, 'REDIS_PASSWORD'),
    sentinelPassword: optional(env, 'REDIS_SENTINEL_PASSWORD'),
    tls: boolean(env, 'REDIS_TLS', false),
    sentinelTls: boolean(env, 'REDIS_SENTINEL_TLS', false),
    ackReplicas: ackReplicas(env),
  });
}

/** REDIS_ACK_REPLICAS: `all` (the default), or a number of replicas from 0 (none) to 16. */
function ackReplicas(env: Env): number | 'all' {
  const raw = optional(env, 'REDIS_ACK_REPLICAS')?.trim();
  if (raw === undefined || raw === 'all') return 'all';
  if (!/^\d{1,2}$/.test(raw) || Number(raw) > 16) {
    throw new ConfigError('REDIS_ACK_REPLICAS', 'all (every replica the primary has; the default), 0 (none: the primary\'s word is taken) or a number of replicas from 1 to 16', env.REDIS_ACK_REPLICAS);
  }
  return Number(raw);
}

function serviceTokens(env: Env, production: boolean): string[] {
  const tokens = list(env, 'SERVICE_TOKENS');
  for (const token of tokens) {
    if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
      // The token itself is a secret: say what is wrong without echoing it.
      throw new ConfigError(
        'SERVICE_TOKENS',
        `comma-separated tokens of at least ${MIN_TOKEN_LENGTH} printable ASCII characters`,
        `a token of ${token.length} characters`,
      );
    }
  }
  if (production && tokens.length === 0) {
    throw new ConfigError('SERVICE_TOKENS', 'at least one token when NODE_ENV=production', undefined);
  }
  return tokens;
}

function corsOrigins(env: Env): readonly string[] | '*' {
  const origins = list(env, 'CORS_ORIGINS');
  if (origins.length === 1 && origins[0] === '*') return '*';
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.origin !== origin) {
      throw new ConfigError('CORS_ORIGINS', 'comma-separated origins such as https://app.example.com (or *)', origin);
    }
  }
  return origins;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, values: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, values.join(' or '), raw);
  return raw as T;
}

function lifecycle(env: Env): LifecycleConfig {
  return Object.freeze({
    maxLifetimeSeconds: integer(env, 'SESSION_MAX_LIFETIME', 24 * 3600, 0, MAX_LIFETIME_SECONDS),
    rotationGraceSeconds: integer(env, 'ROTATION_GRACE_SECONDS', 0, 0, 300),
    maxSessionsPerPrincipal: integer(env, 'MAX_SESSIONS_PER_PRINCIPAL', 0, 0, MAX_SESSIONS_LIMIT),
    limitPolicy: oneOf(env, 'SESSION_LIMIT_POLICY', 'evict', ['evict', 'refuse'] as const),
    deviceAddress: oneOf(env, 'DEVICE_ADDRESS', 'network', ['full', 'network', 'none'] as const),
  });
}

// --- The session cookie the gateway sets (SESSION_COOKIE_SET and its attributes) ---------------

const COOKIE_VARIABLES = ['SESSION_COOKIE_DOMAIN', 'SESSION_COOKIE_PATH', 'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE'];
const SAME_SITE: readonly SameSite[] = ['Lax', 'Strict', 'None'];
/** A host name (RFC 6265 §4.1.2.3: RFC 1034 labels), with the leading dot browsers ignore allowed. */
const COOKIE_DOMAIN = /^\.?(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** An absolute path (RFC 6265 §4.1.1 path-value: no CTLs, no `;`), without spaces. */
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]{0,1023}$/;
/** The variable behind each attribute a browser rule may demand, and the value it demands. */
const COOKIE_RULE_VARIABLE = {
  Secure: { variable: 'SESSION_COOKIE_SECURE', wanted: 'true' },
  Path: { variable: 'SESSION_COOKIE_PATH', wanted: '/' },
  Domain: { variable: 'SESSION_COOKIE_DOMAIN', wanted: 'no domain' },
} as const;

/**
 * The cookie the gateway sets, named `name` (SESSION_COOKIE), or null when SESSION_COOKIE_SET is
 * not `true`; then an attribute variable is a mistake (it would change nothing) and is refused.
 * A combination a browser would silently drop (a `__Host-` name with a Domain, SameSite=None
 * without Secure: session/transport.ts has the rules) is refused here, naming the variable.
 */
function sessionCookieSet(env: Env, name: string): SessionCookie | null {
  if (!boolean(env, 'SESSION_COOKIE_SET', false)) {
    const stray = COOKIE_VARIABLES.find((variable) => optional(env, variable) !== undefined);
    if (stray !== undefined) throw new ConfigError(stray, 'SESSION_COOKIE_SET=true beside it (without it the gateway sets no cookie)', env[stray]);
    return null;
  }
  const sameSiteRaw = optional(env, 'SESSION_COOKIE_SAMESITE');
  const sameSite = sameSiteRaw === undefined ? 'Lax' : SAME_SITE.find((value) => value.toLowerCase() === sameSiteRaw.toLowerCase());
  if (sameSite === undefined) throw new ConfigError('SESSION_COOKIE_SAMESITE', 'Lax, Strict or None', sameSiteRaw);
  const domain = optional(env, 'SESSION_COOKIE_DOMAIN');
  if (domain !== undefined && !COOKIE_DOMAIN.test(domain)) {
    throw new ConfigError('SESSION_COOKIE_DOMAIN', 'a domain name such as zum.com (the cookie then goes to it and its subdomains)', domain);
  }
  const cookie: SessionCookie = Object.freeze({
    name,
    path: matching(env, 'SESSION_COOKIE_PATH', '/', COOKIE_PATH, 'a path starting with / (no spaces, no ;)'),
    domain,
    secure: boolean(env, 'SESSION_COOKIE_SECURE', true),
    httpOnly: boolean(env, 'SESSION_COOKIE_HTTPONLY', true),
    sameSite,
  });
  const broken = sessionCookieRuleBroken(cookie);
  if (broken !== null) {
    const { variable, wanted } = COOKIE_RULE_VARIABLE[broken.attribute];
    throw new ConfigError(variable, `${wanted} (${broken.rule}; browsers drop it otherwise)`, env[variable]);
  }
  return cookie;
}

function sessionCache(env: Env): SessionCacheConfig | null {
  const variables = ['SESSION_CACHE_MAX_ENTRIES', 'SESSION_CACHE_MAX_BYTES'];
  if (oneOf(env, 'SESSION_CACHE', 'off', ['on', 'off'] as const) === 'off') {
    const stray = variables.find((name) => optional(env, name) !== undefined);
    if (stray !== undefined) throw new ConfigError(stray, 'nothing unless SESSION_CACHE=on', env[stray]);
    return null;
  }
  return Object.freeze({
    maxEntries: integer(env, 'SESSION_CACHE_MAX_ENTRIES', 10_000, 1, 10_000_000),
    maxBytes: integer(env, 'SESSION_CACHE_MAX_BYTES', 64 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
  });
}

// --- OpenTelemetry (the standard OTEL_* variables, as the specification names them) ----------

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** An http(s) URL, for an OTLP endpoint. */
function otlpUrl(env: Env, name: string): string {
  const raw = env[name] as string;
  let url: URL | undefined;
  try {
    url = new URL(raw.trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(name, 'an http:// or https:// URL such as http://otel-collector:4318', raw);
  }
  return url.href;
}

/**
 * A `key=value,key=value` list (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values
 * percent-decoded as the specification says. `secret`: the values are not echoed in an error.
 */
function keyValues(env: Env, name: string, secret: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(env, name)) {
    const at = item.indexOf('=');
    const key = at < 0 ? '' : item.slice(0, at).trim();
    let value: string | undefined;
    try {
      value = at < 0 ? undefined : decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      value = undefined;
    }
    if (key === '' || value === undefined || !/^[\x21-\x7e]+$/.test(key)) {
      throw new ConfigError(name, 'comma-separated key=value pairs (values percent-encoded)', secret ? `an item of ${item.length} characters` : item);
    }
    out[key] = value;
  }
  return out;
}

function traceSampler(env: Env): TraceSampler {
  const name = oneOf(env, 'OTEL_TRACES_SAMPLER', 'parentbased_always_on', SAMPLERS);
  const root = name.replace(/^parentbased_/, '') as TraceSampler['root'];
  const rawRatio = optional(env, 'OTEL_TRACES_SAMPLER_ARG')?.trim();
  let ratio = 1;
  if (root === 'traceidratio' && rawRatio !== undefined) {
    ratio = /^(?:0|1|0?\.\d+|1\.0*)$/.test(rawRatio) ? Number(rawRatio) : NaN;
    if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', 'the share of traces to keep, a number from 0 to 1 (e.g. 0.1)', env.OTEL_TRACES_SAMPLER_ARG);
  }
  return Object.freeze({ root, parentBased: name.startsWith('parentbased_'), ratio });
}

/**
 * Tracing is on when an OTLP endpoint is set (and neither OTEL_SDK_DISABLED=true nor
 * OTEL_TRACES_EXPORTER=none says otherwise). Without one, the other OTEL_* variables are not
 * read: a fleet may set OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES everywhere.
 */
function tracing(env: Env): TracingConfig | null {
  const tracesEndpoint = optional(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = optional(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === undefined && endpoint === undefined) return null;
  if (boolean(env, 'OTEL_SDK_DISABLED', false)) return null;
  if (oneOf(env, 'OTEL_TRACES_EXPORTER', 'otlp', ['otlp', 'none'] as const) === 'none') return null;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = optional(env, name);
    if (protocol !== undefined && protocol !== 'http/json') {
      throw new ConfigError(name, 'http/json (the gateway exports OTLP over HTTP as JSON, which every OpenTelemetry Collector\'s otlp receiver takes on its HTTP port), or nothing', protocol);
    }
    if (protocol !== undefined) break; // the traces variable, when set, is the one that counts
  }
  const tracesUrl = tracesEndpoint !== undefined ? otlpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') : `${otlpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, '')}/v1/traces`;
  const resourceAttributes = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES', false);
  const serviceName = optional(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'session-gateway';
  const timeout = (name: string, fallback: number): number => integer(env, name, fallback, 1, 600_000);
  const maxQueueSize = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000);
  const maxExportBatchSize = integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', Math.min(512, maxQueueSize), 1, 1_000_000);
  if (maxExportBatchSize > maxQueueSize) {
    throw new ConfigError('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `at most OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`, env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE);
  }
  return Object.freeze({
    tracesUrl,
    headers: Object.freeze({ ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS', true), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', true) }),
    exportTimeoutMs: timeout('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', timeout('OTEL_EXPORTER_OTLP_TIMEOUT', 10_000)),
    serviceName,
    resourceAttributes: Object.freeze(resourceAttributes),
    sampler: traceSampler(env),
    batch: Object.freeze({
      scheduledDelayMs: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 600_000),
      exportTimeoutMs: timeout('OTEL_BSP_EXPORT_TIMEOUT', 30_000),
      maxQueueSize,
      maxExportBatchSize,
    }),
  });
}

// --- Session tokens -----------------------------------------------------------------------------

/** The longest SESSION_TOKEN_TTL: a day. A token cannot be taken back from a module that does not ask. */
export const MAX_TOKEN_TTL_SECONDS = 24 * 3600;
/** The claims a token sets itself: an attribute may not stand in for one (SESSION_TOKEN_CLAIMS). */
export const REGISTERED_TOKEN_CLAIMS: readonly string[] = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'kid', 'token_type', 'active', 'client_id', 'scope', 'username'];
/** An issuer or audience: printable ASCII without spaces or commas (a URL, a URN, a plain name). */
const TOKEN_NAME = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;

function sessionTokens(env: Env): SessionTokenConfig {
  const ttlSeconds = integer(env, 'SESSION_TOKEN_TTL', 300, 1, MAX_TOKEN_TTL_SECONDS);
  // At least one token lifetime: the keys served at once then stay few (the one signing, the
  // next, and the last until its tokens expire).
  const keyRotationSeconds = integer(env, 'SESSION_TOKEN_KEY_ROTATION', 30 * 24 * 3600, ttlSeconds, MAX_LIFETIME_SECONDS);
  const audiences = list(env, 'SESSION_TOKEN_AUDIENCES');
  for (const audience of audiences) {
    if (!TOKEN_NAME.test(audience)) throw new ConfigError('SESSION_TOKEN_AUDIENCES', 'comma-separated audiences of 1-256 printable characters, no spaces', audience);
  }
  const claims = list(env, 'SESSION_TOKEN_CLAIMS');
  for (const claim of claims) {
    if (REGISTERED_TOKEN_CLAIMS.includes(claim)) throw new ConfigError('SESSION_TOKEN_CLAIMS', `attribute names other than the token's own claims (${REGISTERED_TOKEN_CLAIMS.join(', ')})`, claim);
    if (Buffer.byteLength(claim) > 256) throw new ConfigError('SESSION_TOKEN_CLAIMS', 'attribute names of at most 256 bytes', claim);
  }
  return Object.freeze({
    ttlSeconds,
    keyRotationSeconds,
    algorithm: oneOf(env, 'SESSION_TOKEN_ALG', 'ES256', ['ES256', 'EdDSA'] as const),
    issuer: matching(env, 'SESSION_TOKEN_ISSUER', 'session-gateway', TOKEN_NAME, '1-256 printable characters without spaces or commas, e.g. https://sessions.example.com'),
    audiences: Object.freeze(audiences.length === 0 ? ['session-gateway'] : [...new Set(audiences)]),
    claims: Object.freeze([...new Set(claims)]),
  });
}

// -------------------------------------------------------------------------------------------

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const production = nodeEnv === 'production';
  const sessionTimeoutSeconds = integer(env, 'SESSION_TIMEOUT', 3600, 1, MAX_INACTIVE_SECONDS);
  const touchIntervalSeconds = integer(env, 'TOUCH_INTERVAL', Math.min(60, sessionTimeoutSeconds), 0, MAX_INACTIVE_SECONDS);
  if (touchIntervalSeconds > sessionTimeoutSeconds) {
    throw new ConfigError('TOUCH_INTERVAL', `seconds no more than SESSION_TIMEOUT (${sessionTimeoutSeconds})`, env.TOUCH_INTERVAL);
  }
  const sessionCookie = matching(env, 'SESSION_COOKIE', 'JSESSIONID', COOKIE_NAME, 'a cookie name');
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', LOG_LEVELS.join(', '), logLevel);

  return Object.freeze({
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    redis: redisConfig(env),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 2000, 10, 60000),
    sessionTimeoutSeconds,
    touchIntervalSeconds,
    sessionHeader: matching(env, 'SESSION_HEADER', 'X-Session-ID', HEADER_NAME, 'an HTTP header name'),
    sessionCookie,
    sessionCookieSet: sessionCookieSet(env, sessionCookie),
    serviceTokens: Object.freeze(serviceTokens(env, production)),
    corsOrigins: corsOrigins(env),
    sessionNamespace: matching(env, 'SESSION_NAMESPACE', 'session', NAMESPACE, '1-64 characters of A-Z a-z 0-9 : _ . -'),
    legacyAttribute: matching(env, 'LEGACY_ATTRIBUTE', 'user', /^.{1,256}$/s, 'an attribute name of 1-256 characters'),
    maxAttributeBytes: integer(env, 'MAX_ATTRIBUTE_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    maxBatchIds: integer(env, 'MAX_BATCH_IDS', 100, 1, 10000),
    maxQueryTokens: integer(env, 'MAX_QUERY_TOKENS', 1000, 50, 100_000),
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 15, 2, 1000),
    maxQueryFields: integer(env, 'MAX_QUERY_FIELDS', 500, 10, 100_000),
    httpRequestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 10_000, 1000, 600_000),
    // Above the keep-alive timeout (72 s), which closes idle keep-alive connections first.
    httpIdleTimeoutMs: integer(env, 'HTTP_IDLE_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    httpMaxConnections: integer(env, 'HTTP_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    nodeEnv,
    production,
    // The IDE shows the whole schema and invites experiments: a development aid, so off in
    // production unless asked for.
    playground: boolean(env, 'PLAYGROUND', !production),
    logLevel,
    lifecycle: lifecycle(env),
    sessionCache: sessionCache(env),
    sessionTokens: sessionTokens(env),
    cacheLeaseMs: integer(env, 'SESSION_CACHE_LEASE_MS', 3000, 300, 60_000),
    tracing: tracing(env),
  });
}
