/**
 * The Lua scripts that make every compound store operation one atomic step in Redis. Each is
 * loaded once per connection with `defineCommand` (EVALSHA, falling back to EVAL after a Redis
 * restart flushed the script cache). Reads need no script: they are a plain GET / MGET.
 *
 * The session value format is described in `redis-codec.ts`. The scripts make no rule of time:
 * each is given the time of the write (on the store's clock: ours, corrected by Redis's TIME, so
 * gateway instances agree) and the absolute deadline the session rules computed
 * (`session/model.ts`), and set it as PXAT / PEXPIREAT.
 */

import { LAST_ACCESS_OFFSET } from './redis-codec';

/**
 * Announces a change on the namespace's change channel, in the same script (so the same atomic
 * step) as the write: `<kind>|<version>|<digest>` on `<namespace>:changes`, both taken from the
 * key `<namespace>:{<digest>}`. PUBLISH is not a key access, and in a Redis Cluster it reaches
 * every node's subscribers.
 */
const ANNOUNCE = `
local function announce(kind, version)
  local namespace, digest = string.match(KEYS[1], '^(.*):{([^{}]*)}$')
  redis.call('PUBLISH', namespace .. ':changes', kind .. '|' .. version .. '|' .. digest)
end
`;

/** The channel the scripts announce changes on (see ANNOUNCE). */
export function changeChannel(namespace: string): string {
  return `${namespace}:changes`;
}

/**
 * KEYS[1]: session key. ARGV: now ms (13 digits), expiresAt ms, maxInactive seconds, principal
 * ('' for none), encoded attributes. Creates the session only if the key is free (SET NX).
 * Returns 1, or false if the key is taken.
 */
export const CREATE_SESSION = `${ANNOUNCE}
local value = '1|' .. ARGV[1] .. '|' .. ARGV[3] .. '|' .. ARGV[1] .. '|1|' .. #ARGV[4] .. '|' .. ARGV[4] .. ARGV[5]
if not redis.call('SET', KEYS[1], value, 'PXAT', ARGV[2], 'NX') then
  return false
end
announce('ISSUED', 1)
return 1
`;

/**
 * KEYS[1]: session key. Removes the session and announces it revoked, as one version past its
 * last. Returns 1 if there was a session to remove, else 0 (and announces nothing).
 */
export const DESTROY_SESSION = `${ANNOUNCE}
local head = redis.call('GETRANGE', KEYS[1], 0, 63)
if head == '' then return 0 end
local version = tonumber(string.match(head, '^1|%d+|%d+|%d+|(%d+)|')) or 0
redis.call('DEL', KEYS[1])
announce('REVOKED', version + 1)
return 1
`;

/**
 * KEYS[1]: session key. ARGV: the lastAccessedAt ms the read that decided this touch saw (13
 * digits), now ms (13 digits), the new expiresAt ms.
 * Slides the expiry of a session that is still there and was not used since that read;
 * otherwise does nothing (another instance touched or updated it first, or it is gone: a touch
 * never brings a session back and never moves lastAccessedAt backwards).
 * Returns 1, or false when nothing was written.
 */
export const TOUCH_SESSION = `
local head = redis.call('GETRANGE', KEYS[1], 0, 63)
local last = string.match(head, '^1|(%d+)|')
if last ~= ARGV[1] then return false end
redis.call('SETRANGE', KEYS[1], ${LAST_ACCESS_OFFSET}, ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS[1]: session key. ARGV:
 *   1 expected version or ''          2 new maxInactive seconds or ''
 *   3 principal: '' keep, '-' clear, '=' set to ARGV[4]
 *   5 max attribute bytes             6 now ms (13 digits)
 *   7 expiresAt ms                    8 the maxInactive seconds expiresAt was computed for
 *   9 n = number of names to unset    10..9+n names to unset, then name, json pairs to set
 * Returns { 'OK', newValue } | { 'NOT_FOUND' } | { 'VERSION_CONFLICT', version }
 *       | { 'IDLE', maxInactive } (the deadline was computed for another idle time)
 *       | { 'PAYLOAD_TOO_LARGE', bytes }. Writes nothing unless it answers OK, and never writes
 * a key that is not there: an expired or revoked session stays gone. An update counts as use:
 * it restarts the idle clock at ARGV[6]. Mirrors applyPatch() in session/model.ts.
 */
export const UPDATE_SESSION = `${ANNOUNCE}
local value = redis.call('GET', KEYS[1])
if not value then return { 'NOT_FOUND' } end

local pos = 1
local function field()
  local bar = string.find(value, '|', pos, true)
  local s = string.sub(value, pos, bar - 1)
  pos = bar + 1
  return s
end
local function chunk()
  local len = tonumber(field())
  local s = string.sub(value, pos, pos + len - 1)
  pos = pos + len
  return s
end

field() -- format version
field() -- lastAccessedAt, replaced below
local max_inactive = field()
local created = field()
local version = tonumber(field())
local principal = chunk()
local order, attrs = {}, {}
while pos <= #value do
  local name = chunk()
  order[#order + 1] = name
  attrs[name] = chunk()
end

if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then
  return { 'VERSION_CONFLICT', version }
end
if ARGV[2] ~= '' then max_inactive = ARGV[2] end
if max_inactive ~= ARGV[8] then
  return { 'IDLE', max_inactive }
end

local n_unset = tonumber(ARGV[9])
for i = 10, 9 + n_unset do
  attrs[ARGV[i]] = nil
end
for i = 10 + n_unset, #ARGV, 2 do
  local name = ARGV[i]
  if attrs[name] == nil then order[#order + 1] = name end
  attrs[name] = ARGV[i + 1]
end

local parts, bytes = {}, 0
for _, name in ipairs(order) do
  local json = attrs[name]
  if json ~= nil then
    attrs[name] = nil -- a name listed twice (unset, then set again) is written once
    bytes = bytes + #name + #json
    parts[#parts + 1] = #name .. '|' .. name .. #json .. '|' .. json
  end
end
if bytes > tonumber(ARGV[5]) then
  return { 'PAYLOAD_TOO_LARGE', bytes }
end

if ARGV[3] == '-' then principal = '' elseif ARGV[3] == '=' then principal = ARGV[4] end
local next_value = '1|' .. ARGV[6] .. '|' .. max_inactive .. '|' .. created .. '|' .. (version + 1) .. '|'
  .. #principal .. '|' .. principal .. table.concat(parts)
redis.call('SET', KEYS[1], next_value, 'PXAT', ARGV[7])
announce('UPDATED', version + 1)
return { 'OK', next_value }
`;
