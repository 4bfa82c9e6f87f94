/**
 * What a failed Redis call means (src/store/redis-errors.ts): pure classification, no server.
 * The replies are the ones Redis and ioredis produce, word for word.
 */
import { ReplyError } from 'ioredis';
import { GatewayError } from '../../src/errors';
import { classifyRedisError } from '../../src/store/redis-errors';

const reply = (message: string): Error => new ReplyError(message);

describe('a reply that says the gateway asked wrongly is a defect (INTERNAL), never an outage', () => {
  test.each([
    ['MOVED 12182 127.0.0.1:7002'],
    ['ASK 12182 127.0.0.1:7002'],
    ["CROSSSLOT Keys in request don't hash to the same slot"],
    ['ERR Error running script (call to f_0123): @user_script:1: bad argument'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value'],
  ])('%s', (message) => {
    for (const operation of ['getMany', 'update'] as const) {
      const error = classifyRedisError(operation, reply(message));
      expect(error).toBeInstanceOf(GatewayError);
      expect([error.code, error.outcome]).toEqual(['INTERNAL', undefined]);
      expect(error.publicMessage).toBe('internal error');
      expect(error.cause).toBeInstanceOf(ReplyError);
    }
  });

  test('a redirect says so in the log message, so nobody goes looking at a healthy Redis', () => {
    expect(classifyRedisError('getMany', reply('MOVED 1 127.0.0.1:7002')).message).toMatch(/redirect or cross-slot reply.*\(MOVED\)/);
    expect(classifyRedisError('getMany', reply("CROSSSLOT Keys in request don't hash to the same slot")).message).toMatch(/\(CROSSSLOT\)/);
  });
});

describe('Redis refusing to run a command now is an outage in which nothing was written', () => {
  test.each([
    ["READONLY You can't write against a read only replica."],
    ['LOADING Redis is loading the dataset in memory'],
    ["OOM command not allowed when used memory > 'maxmemory'."],
    ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.'],
    ['TRYAGAIN Multiple keys request during rehashing of slot'],
    ['CLUSTERDOWN The cluster is down'],
    ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no'],
  ])('%s', (message) => {
    const write = classifyRedisError('update', reply(message));
    expect([write.code, write.outcome]).toEqual(['STORE_UNAVAILABLE', 'NOT_APPLIED']);
    expect(write.message).toMatch(/nothing was written/);
    const read = classifyRedisError('getMany', reply(message));
    expect([read.code, read.outcome]).toEqual(['STORE_UNAVAILABLE', undefined]);
  });
});

test('a command that never left is NOT_APPLIED; one sent without an answer is UNKNOWN', () => {
  const offline = classifyRedisError('create', new Error("Stream isn't writeable and enableOfflineQueue options is false"));
  expect([offline.code, offline.outcome]).toEqual(['STORE_UNAVAILABLE', 'NOT_APPLIED']);
  const timedOut = classifyRedisError('update', new Error('Command timed out'));
  expect([timedOut.code, timedOut.outcome]).toEqual(['STORE_UNAVAILABLE', 'UNKNOWN']);
  expect(timedOut.message).toMatch(/may or may not be applied/);
  const dropped = classifyRedisError('destroy', new Error('Connection is closed.'));
  expect([dropped.code, dropped.outcome]).toEqual(['STORE_UNAVAILABLE', 'UNKNOWN']);
});

test('a Cluster client that gave up retrying through a failover: the write may have reached a node (UNKNOWN)', () => {
  const exhausted = classifyRedisError('update', new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'));
  expect([exhausted.code, exhausted.outcome]).toEqual(['STORE_UNAVAILABLE', 'UNKNOWN']);
  expect(exhausted.message).toMatch(/failing over/);
});

test('a coded error passes through as it is', () => {
  const coded = new GatewayError('SESSION_NOT_FOUND', 'no such session');
  expect(classifyRedisError('update', coded)).toBe(coded);
});
