import { ConfigError, loadConfig } from '../src/config';

describe('config', () => {
  test('defaults give a working development gateway on the embedded store', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      redisUrl: undefined,
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
      redisUrl: 'redis://10.0.0.5:6380/2',
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
});
