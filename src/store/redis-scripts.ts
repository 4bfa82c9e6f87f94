/**
 * The Lua scripts that make every compound store operation one atomic step in Redis. Each is
 * loaded once per connection with `defineCommand` (EVALSHA, falling back to EVAL after a Redis
 * restart flushed the script cache). Reads need no script: they are a plain GET / MGET.
 *
 * The session value format is described in `redis-codec.ts`. Times come from Redis's own clock,
 * so gateway instances with skewed clocks still agree on createdAt and expiry; every expiry is
 * set as an absolute PXAT / PEXPIREAT equal to lastAccessedAt + maxInactive, so the value alone
 * tells when the key expires.
 */

import { LAST_ACCESS_OFFSET } from './redis-codec';

/**
 * Epoch milliseconds from Redis's clock, as a number (for PXAT) and as a 13-digit decimal string
 * (for the value: Lua 5.1 would print the number as 1.7e+12).
 */
const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  local ms = math.floor(tonumber(t[2]) / 1000)
  return tonumber(t[1]) * 1000 + ms, t[1] .. string.format('%03d', ms)
end
`;

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
 * KEYS[1]: session key. ARGV: maxInactive seconds, principal ('' for none), encoded attributes.
 * Creates the session only if the key is free (SET NX).
 * Returns createdAt ms, or false if the key is taken.
 */
export const CREATE_SESSION = `${NOW}${ANNOUNCE}
local now, now_text = now_ms()
local value = '1|' .. now_text .. '|' .. ARGV[1] .. '|' .. now_text .. '|1|' .. #ARGV[2] .. '|' .. ARGV[2] .. ARGV[3]
if not redis.call('SET', KEYS[1], value, 'PXAT', now + tonumber(ARGV[1]) * 1000, 'NX') then
  return false
end
announce('ISSUED', 1)
return now
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
 * KEYS[1]: session key. ARGV[1]: touch interval in ms.
 * Slides the expiry of a session that is still there and whose last access is at least the
 * interval ago; otherwise does nothing (another instance touched it first, or it is gone: a
 * touch never brings a session back and never moves lastAccessedAt backwards).
 * Returns the new lastAccessedAt ms, or false when nothing was written.
 */
export const TOUCH_SESSION = `${NOW}
local head = redis.call('GETRANGE', KEYS[1], 0, 63)
local last, max = string.match(head, '^1|(%d+)|(%d+)|')
if not last then return false end
local now, now_text = now_ms()
if now - tonumber(last) < tonumber(ARGV[1]) then return false end
redis.call('SETRANGE', KEYS[1], ${LAST_ACCESS_OFFSET}, now_text)
redis.call('PEXPIREAT', KEYS[1], now + tonumber(max) * 1000)
return now
`;

/**
 * KEYS[1]: session key. ARGV:
 *   1 expected version or ''          2 new maxInactive seconds or ''
 *   3 principal: '' keep, '-' clear, '=' set to ARGV[4]
 *   5 max attribute bytes             6 n = number of names to unset
 *   7..6+n names to unset             then name, json pairs to set
 * Returns { 'OK', newValue } | { 'NOT_FOUND' } | { 'VERSION_CONFLICT', version }
 *       | { 'PAYLOAD_TOO_LARGE', bytes }. Writes nothing unless it answers OK, and never writes
 * a key that is not there: an expired or revoked session stays gone. An update counts as use:
 * it restarts the idle clock. Mirrors applyPatch() in session/model.ts.
 */
export const UPDATE_SESSION = `${NOW}${ANNOUNCE}
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

local n_unset = tonumber(ARGV[6])
for i = 7, 6 + n_unset do
  attrs[ARGV[i]] = nil
end
for i = 7 + n_unset, #ARGV, 2 do
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

if ARGV[2] ~= '' then max_inactive = ARGV[2] end
if ARGV[3] == '-' then principal = '' elseif ARGV[3] == '=' then principal = ARGV[4] end
local now, now_text = now_ms()
local next_value = '1|' .. now_text .. '|' .. max_inactive .. '|' .. created .. '|' .. (version + 1) .. '|'
  .. #principal .. '|' .. principal .. table.concat(parts)
redis.call('SET', KEYS[1], next_value, 'PXAT', now + tonumber(max_inactive) * 1000)
announce('UPDATED', version + 1)
return { 'OK', next_value }
`;
