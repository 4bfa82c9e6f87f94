import { ConfigError, loadConfig } from '../src/config';

describe('config', () => {
  test('defaults give a working development gateway on the embedded store', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      redis: undefined,
      sessionTimeoutSeconds: 3600,
      touchIntervalSeconds: 60,
      sessionHeader: 'X-Session-ID',
      sessionNamespace: 'session',
      legacyAttribute: 'user',
      corsOrigins: [],
      serviceTokens: [],
      production: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('every contract variable is read', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      REDIS_URL: 'redis://10.0.0.5:6380/2',
      SESSION_TIMEOUT: '1800',
      SESSION_HEADER: 'X-Auth-Session',
      SERVICE_TOKENS: 'aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2',
      CORS_ORIGINS: 'https://app.example.com,http://localhost:3000',
      SESSION_NAMESPACE: 'zum:session',
      LEGACY_ATTRIBUTE: 'member',
      NODE_ENV: 'production',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      redis: { topology: { kind: 'single', url: 'redis://10.0.0.5:6380/2' }, ackReplicas: 'all' },
      sessionTimeoutSeconds: 1800,
      sessionHeader: 'X-Auth-Session',
      serviceTokens: ['aaaaaaaaaaaaaaaa1', 'bbbbbbbbbbbbbbbb2'],
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      sessionNamespace: 'zum:session',
      legacyAttribute: 'member',
      production: true,
    });
  });

  test.each([
    [{ PORT: 'eighty' }, /^PORT: expected an integer/],
    [{ PORT: '70000' }, /^PORT:/],
    [{ SESSION_TIMEOUT: '0' }, /^SESSION_TIMEOUT:/],
    [{ SESSION_TIMEOUT: '1.5' }, /^SESSION_TIMEOUT:/],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL:/],
    [{ REDIS_URL: 'http://localhost:6379' }, /^REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/],
    [{ SESSION_HEADER: 'X Session' }, /^SESSION_HEADER:/],
    [{ SERVICE_TOKENS: 'short' }, /^SERVICE_TOKENS:/],
    [{ CORS_ORIGINS: 'app.example.com' }, /^CORS_ORIGINS:/],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, /^CORS_ORIGINS:/],
    [{ SESSION_NAMESPACE: 'has space' }, /^SESSION_NAMESPACE:/],
    [{ NODE_ENV: 'production' }, /^SERVICE_TOKENS: expected at least one token when NODE_ENV=production/],
    [{ SESSION_TIMEOUT: '30', TOUCH_INTERVAL: '60' }, /^TOUCH_INTERVAL:/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL:/],
    [{ SHUTDOWN_TIMEOUT_MS: '50' }, /^SHUTDOWN_TIMEOUT_MS: expected an integer from 100 to 600000/],
    [{ SHUTDOWN_TIMEOUT_MS: 'soon' }, /^SHUTDOWN_TIMEOUT_MS:/],
    [{ PLAYGROUND: 'yes' }, /^PLAYGROUND: expected true or false, got "yes"/],
  ])('%p is refused with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  describe('Redis: a single node, a Cluster or Sentinel, exactly one', () => {
    test('a Cluster from its seed nodes', () => {
      expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }).redis).toEqual({
        topology: { kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b.internal', port: 7001 }, { host: '::1', port: 7002 }] },
        username: undefined,
        password: 'pw',
        sentinelPassword: undefined,
        tls: true,
        sentinelTls: false,
        ackReplicas: 'all',
      });
    });

    test('Sentinel: the sentinels, the primary\'s name, both passwords, replicas to wait for', () => {
      const redis = loadConfig({
        REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_PASSWORD: 'node-pw',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_SENTINEL_TLS: 'true',
        REDIS_ACK_REPLICAS: '1',
      }).redis;
      expect(redis).toMatchObject({
        topology: { kind: 'sentinel', primaryName: 'mymaster', sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }] },
        password: 'node-pw',
        sentinelPassword: 'sentinel-pw',
        sentinelTls: true,
        ackReplicas: 1,
      });
    });

    test.each([
      [undefined, 'all'],
      ['all', 'all'],
      [' all ', 'all'],
      ['0', 0],
      ['2', 2],
      ['16', 16],
    ])('REDIS_ACK_REPLICAS=%p: a write must reach %p replicas (all: every replica its primary has, the default)', (value, expected) => {
      const env: Record<string, string> = { REDIS_URL: 'redis://a:6379' };
      if (value !== undefined) env.REDIS_ACK_REPLICAS = value;
      expect(loadConfig(env).redis?.ackReplicas).toBe(expected);
    });

    test.each([
      [{ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'a:7000' }, /^REDIS_URL and REDIS_CLUSTER_NODES: expected one of/],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_CLUSTER_NODES and REDIS_SENTINELS:/],
      [{ REDIS_CLUSTER_NODES: 'a' }, /^REDIS_CLUSTER_NODES: expected comma-separated host:port pairs/],
      [{ REDIS_CLUSTER_NODES: 'a:0' }, /^REDIS_CLUSTER_NODES:/],
      [{ REDIS_CLUSTER_NODES: ' , ' }, /^REDIS_CLUSTER_NODES:/],
      [{ REDIS_SENTINELS: 'a:26379' }, /^REDIS_SENTINEL_NAME: expected the name the sentinels monitor/],
      [{ REDIS_SENTINEL_NAME: 'mymaster' }, /^REDIS_SENTINEL_NAME: expected REDIS_SENTINELS beside it/],
      [{ REDIS_PASSWORD: 'pw' }, /^REDIS_PASSWORD: expected REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS beside it/],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINEL_PASSWORD: 'pw' }, /^REDIS_SENTINEL_PASSWORD: expected REDIS_SENTINELS beside it/],
      [{ REDIS_URL: 'redis://a:6379', REDIS_TLS: 'true' }, /^REDIS_TLS: expected a rediss:\/\/ REDIS_URL/],
      [{ REDIS_URL: 'redis://a:6379', REDIS_ACK_REPLICAS: '-1' }, /^REDIS_ACK_REPLICAS: expected all \(every replica the primary has; the default\), 0 \(none: the primary's word is taken\) or a number of replicas from 1 to 16, got "-1"$/],
      [{ REDIS_URL: 'redis://a:6379', REDIS_ACK_REPLICAS: '17' }, /^REDIS_ACK_REPLICAS: expected all .* got "17"$/],
      [{ REDIS_URL: 'redis://a:6379', REDIS_ACK_REPLICAS: 'every' }, /^REDIS_ACK_REPLICAS: expected all .* got "every"$/],
      [{ REDIS_URL: 'redis://a:6379', REDIS_ACK_REPLICAS: '1.5' }, /^REDIS_ACK_REPLICAS: expected all .* got "1.5"$/],
      [{ REDIS_ACK_REPLICAS: 'all' }, /^REDIS_ACK_REPLICAS: expected REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS beside it/],
      [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_TLS: 'yes' }, /^REDIS_TLS: expected true or false/],
    ])('%p is refused with a message naming the variable', (env, message) => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    });

    test('a password is never echoed in an error', () => {
      expect(() => loadConfig({ REDIS_PASSWORD: 'secret-pw-0123' })).toThrow(/REDIS_PASSWORD/);
      let message = '';
      try {
        loadConfig({ REDIS_PASSWORD: 'secret-pw-0123' });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toContain('secret-pw-0123');
    });
  });

  test('a bad token is described without being echoed', () => {
    expect(() => loadConfig({ SERVICE_TOKENS: '0123456789' })).toThrow(/a token of 10 characters/);
  });

  test('SHUTDOWN_TIMEOUT_MS bounds the drain: 10 s unless set', () => {
    expect(loadConfig({}).shutdownTimeoutMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs).toBe(2500);
  });

  test('a short SESSION_TIMEOUT pulls the default touch interval down with it', () => {
    expect(loadConfig({ SESSION_TIMEOUT: '30' }).touchIntervalSeconds).toBe(30);
  });

  test('the GraphQL IDE and introspection are on outside production, off in it, unless PLAYGROUND says', () => {
    const production = { NODE_ENV: 'production', SERVICE_TOKENS: 'aaaaaaaaaaaaaaaa1' };
    expect(loadConfig({}).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: 'false' }).playground).toBe(false);
    expect(loadConfig(production).playground).toBe(false);
    expect(loadConfig({ ...production, PLAYGROUND: 'true' }).playground).toBe(true);
  });

  test('the lifecycle: defaults (24 h lifetime, no grace, no limit, addresses cut to their network), every variable read, bad values named', () => {
    expect(loadConfig({}).lifecycle).toEqual({ maxLifetimeSeconds: 86400, rotationGraceSeconds: 0, maxSessionsPerPrincipal: 0, limitPolicy: 'evict', deviceAddress: 'network' });
    expect(
      loadConfig({ SESSION_MAX_LIFETIME: '0', ROTATION_GRACE_SECONDS: '5', MAX_SESSIONS_PER_PRINCIPAL: '3', SESSION_LIMIT_POLICY: 'refuse', DEVICE_ADDRESS: 'full' }).lifecycle,
    ).toEqual({ maxLifetimeSeconds: 0, rotationGraceSeconds: 5, maxSessionsPerPrincipal: 3, limitPolicy: 'refuse', deviceAddress: 'full' });
    for (const [name, value] of [
      ['SESSION_MAX_LIFETIME', '-1'],
      ['SESSION_MAX_LIFETIME', String(367 * 24 * 3600)],
      ['ROTATION_GRACE_SECONDS', '301'],
      ['MAX_SESSIONS_PER_PRINCIPAL', '1001'],
      ['SESSION_LIMIT_POLICY', 'oldest'],
      ['DEVICE_ADDRESS', 'half'],
    ] as const) {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: expected .*, got "${value}"$`));
    }
  });

  test('the session cache: off unless SESSION_CACHE=on; its bounds read, bad values named, and refused while it is off', () => {
    expect(loadConfig({}).sessionCache).toBeNull();
    expect(loadConfig({ SESSION_CACHE: 'on' }).sessionCache).toEqual({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    expect(loadConfig({ SESSION_CACHE: 'on', SESSION_CACHE_MAX_ENTRIES: '500', SESSION_CACHE_MAX_BYTES: '1048576' }).sessionCache).toEqual({ maxEntries: 500, maxBytes: 1048576 });
    for (const env of [{ SESSION_CACHE: 'yes' }, { SESSION_CACHE: 'on', SESSION_CACHE_MAX_ENTRIES: '0' }, { SESSION_CACHE: 'on', SESSION_CACHE_MAX_BYTES: '10' }, { SESSION_CACHE_MAX_ENTRIES: '500' }]) {
      const name = Object.keys(env).at(-1) as string;
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(new RegExp(`^${name}: expected `));
    }
  });
  test('session tokens: defaults (300 s, 30-day rotation, ES256, issuer and audience session-gateway, no attributes), every variable read, bad values named', () => {
    expect(loadConfig({}).sessionTokens).toEqual({ ttlSeconds: 300, keyRotationSeconds: 30 * 24 * 3600, algorithm: 'ES256', issuer: 'session-gateway', audiences: ['session-gateway'], claims: [] });
    expect(
      loadConfig({
        SESSION_TOKEN_TTL: '60',
        SESSION_TOKEN_KEY_ROTATION: '86400',
        SESSION_TOKEN_ALG: 'EdDSA',
        SESSION_TOKEN_ISSUER: 'https://sessions.example.com',
        SESSION_TOKEN_AUDIENCES: 'orders, payments,orders',
        SESSION_TOKEN_CLAIMS: 'role,tenant',
      }).sessionTokens,
    ).toEqual({ ttlSeconds: 60, keyRotationSeconds: 86400, algorithm: 'EdDSA', issuer: 'https://sessions.example.com', audiences: ['orders', 'payments'], claims: ['role', 'tenant'] });
    const bad: Array<Record<string, string>> = [
      { SESSION_TOKEN_TTL: '0' },
      { SESSION_TOKEN_TTL: '86401' },
      { SESSION_TOKEN_TTL: '300', SESSION_TOKEN_KEY_ROTATION: '299' },
      { SESSION_TOKEN_ALG: 'HS256' },
      { SESSION_TOKEN_ALG: 'none' },
      { SESSION_TOKEN_ISSUER: 'two words' },
      { SESSION_TOKEN_AUDIENCES: 'a b' },
      { SESSION_TOKEN_CLAIMS: 'sub' },
      { SESSION_TOKEN_CLAIMS: 'role,exp' },
    ];
    for (const env of bad) {
      const name = Object.keys(env).at(-1) as string;
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(new RegExp(`^${name}: expected `));
      }
    });

  test('the caches\' lease: 3 s unless SESSION_CACHE_LEASE_MS says otherwise, read with the cache off too, bounded', () => {
    expect(loadConfig({}).cacheLeaseMs).toBe(3000);
    expect(loadConfig({ SESSION_CACHE_LEASE_MS: '900' }).cacheLeaseMs).toBe(900);
    expect(loadConfig({ SESSION_CACHE: 'on', SESSION_CACHE_LEASE_MS: '60000' }).cacheLeaseMs).toBe(60_000);
    for (const value of ['299', '60001', '1.5', 'soon']) {
      expect(() => loadConfig({ SESSION_CACHE_LEASE_MS: value })).toThrow(/^SESSION_CACHE_LEASE_MS: expected /);
    }
  });
});

describe('tracing (the standard OTEL_* variables)', () => {
  const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' };

  test('off unless an OTLP endpoint is set; then no other OTEL_* variable is read', () => {
    expect(loadConfig({}).tracing).toBeNull();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'nonsense', OTEL_RESOURCE_ATTRIBUTES: 'broken' }).tracing).toBeNull();
    expect(loadConfig({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
  });

  test('the defaults: /v1/traces on the endpoint, parent-based always-on, the spec\'s batch and timeout values', () => {
    expect(loadConfig(ENDPOINT).tracing).toEqual({
      tracesUrl: 'http://otel-collector:4318/v1/traces',
      headers: {},
      exportTimeoutMs: 10_000,
      serviceName: 'session-gateway',
      resourceAttributes: {},
      sampler: { root: 'always_on', parentBased: true, ratio: 1 },
      batch: { scheduledDelayMs: 5000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
    expect(Object.isFrozen(loadConfig(ENDPOINT).tracing)).toBe(true);
  });

  test('every variable is read, the traces-specific ones over the general ones', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com/otlp/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/v1/traces',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x-tenant=a%20b',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=traces',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '4000',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'sessions-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,deployment.environment.name=prod',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BSP_EXPORT_TIMEOUT: '5000',
      OTEL_BSP_MAX_QUEUE_SIZE: '8192',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
    }).tracing;
    expect(tracing).toEqual({
      tracesUrl: 'https://traces.example.com/v1/traces',
      headers: { 'api-key': 'traces', 'x-tenant': 'a b' },
      exportTimeoutMs: 4000,
      serviceName: 'sessions-eu',
      resourceAttributes: { 'service.name': 'ignored', 'deployment.environment.name': 'prod' },
      sampler: { root: 'traceidratio', parentBased: true, ratio: 0.1 },
      batch: { scheduledDelayMs: 1000, exportTimeoutMs: 5000, maxQueueSize: 8192, maxExportBatchSize: 1024 },
    });
    expect(loadConfig({ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-resource' }).tracing?.serviceName).toBe('from-resource');
    expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio' }).tracing?.sampler).toEqual({ root: 'traceidratio', parentBased: false, ratio: 1 });
    expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'always_off', OTEL_TRACES_SAMPLER_ARG: 'ignored' }).tracing?.sampler).toEqual({ root: 'always_off', parentBased: false, ratio: 1 });
  });

  test.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }, /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:/],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/json/],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL:/],
    [{ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER: expected otlp or none/],
    [{ ...ENDPOINT, OTEL_SDK_DISABLED: 'yes' }, /^OTEL_SDK_DISABLED: expected true or false/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /^OTEL_TRACES_SAMPLER: expected always_on or always_off or traceidratio/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: expected the share of traces to keep/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: 'ten percent' }, /^OTEL_TRACES_SAMPLER_ARG:/],
    [{ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name' }, /^OTEL_RESOURCE_ATTRIBUTES: expected comma-separated key=value pairs/],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_TIMEOUT: '0' }, /^OTEL_EXPORTER_OTLP_TIMEOUT:/],
    [{ ...ENDPOINT, OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' }, /^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: expected at most OTEL_BSP_MAX_QUEUE_SIZE \(100\)/],
  ])('%j is refused, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('a bad header is described without being echoed: its value is a secret', () => {
    for (const headers of ['authorization=Bearer%zz-s3cret-value', 'Bearer-s3cret-value']) {
      expect(() => loadConfig({ ...ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS: headers })).toThrow(/^OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated key=value pairs .*, got "an item of \d+ characters"$/);
    }
  });
});
