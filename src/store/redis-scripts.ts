/**
 * The Lua scripts that make every compound store operation one atomic step in Redis. Each is
 * loaded once per connection with `defineCommand` (EVALSHA, falling back to EVAL after a Redis
 * restart flushed the script cache). Reads need no script: they are a plain GET / MGET.
 *
 * The session value format is described in `redis-codec.ts`. The scripts make no rule of time:
 * each is given the time of the write (on the store's clock: ours, corrected by Redis's TIME, so
 * gateway instances agree) and the absolute deadline the session rules computed
 * (`session/model.ts`), and set it as PXAT / PEXPIREAT, never past the session's own absolute
 * deadline.
 *
 * Keys: `<namespace>:{<tag>}:<digest>` for a session and `<namespace>:{<tag>}:index` for the
 * index of the principals whose sessions carry that tag (`session/ids.ts`). A session script gets
 * the index as KEYS[2] only when the tag is a principal's; an anonymous session's scripts have
 * its own key alone. One tag, one Redis
 * Cluster slot: every script's keys share its KEYS[1]'s tag, so each is atomic on a Cluster too.
 * Every key a script touches is declared in KEYS; where a script needs the sessions an index
 * names (eviction, revoke-all), the store reads the index first and declares them, and the
 * script touches only sessions so declared (a session it was not told of is newer than the read).
 *
 * The index is a sorted set: member `<principal hash>:<digest>` (the first 16 hex digits of the
 * principal's SHA-1, so a principal's members are found without reading sessions), score the
 * session's deadline. Every write that adds, slides or removes a principal's session updates its
 * member in the same script; members whose deadline passed more than PRUNE_MARGIN_MS ago are
 * pruned when the index is written; the index key expires with its latest member.
 */

import { createHash } from 'node:crypto';

/** Members this far past their deadline are pruned (a little slack for clocks between hosts). */
export const PRUNE_MARGIN_MS = 2000;

/**
 * How an index names a principal's members: `<this>:<digest>`, the first 16 hex digits of the
 * principal's SHA-1 (the scripts' `member`, with Redis's `sha1hex`).
 */
export function indexMemberPrefix(principal: string): string {
  return `${createHash('sha1').update(principal).digest('hex').slice(0, 16)}:`;
}

/** The channel the scripts announce changes on (see COMMON). */
export function changeChannel(namespace: string): string {
  return `${namespace}:changes`;
}

/**
 * What every script shares:
 * - `announce`: publishes `<kind>|<version>|<digest>[|<reason>]` on `<namespace>:changes` in the
 *   same script (so the same atomic step) as the write. PUBLISH is not a key access, and in a
 *   Redis Cluster it reaches every node's subscribers.
 * - `decode`: a session value's header fields (nil for a forward or anything else).
 * - the index helpers.
 */
const COMMON = `
local namespace, tag = string.match(KEYS[1], '^(.*):{([^{}]*)}:')
local session_prefix = namespace .. ':{' .. tag .. '}:'
local function announce(kind, version, digest, reason)
  local message = kind .. '|' .. version .. '|' .. digest
  if reason then message = message .. '|' .. reason end
  redis.call('PUBLISH', namespace .. ':changes', message)
end

local function decode(value)
  if not value or string.sub(value, 1, 2) ~= '2|' then return nil end
  local s, pos = {}, 3
  local function field()
    local bar = string.find(value, '|', pos, true)
    local f = string.sub(value, pos, bar - 1)
    pos = bar + 1
    return f
  end
  local function chunk()
    local len = tonumber(field())
    local c = string.sub(value, pos, pos + len - 1)
    pos = pos + len
    return c
  end
  s.last = field()
  s.max_inactive = field()
  s.created = field()
  s.version = tonumber(field())
  s.absolute = field()
  s.lifetime = field()
  s.authenticated = field()
  s.principal = chunk()
  s.user_agent = chunk()
  s.address = chunk()
  s.attributes_at = pos
  s.chunk = chunk
  s.at = function() return pos end
  return s
end

-- The deadline asked for, never past the session's absolute deadline.
local function capped(deadline, s)
  local absolute = tonumber(s.absolute)
  if absolute > 0 and absolute < tonumber(deadline) then return s.absolute end
  return deadline
end

local function member(principal, digest)
  return string.sub(redis.sha1hex(principal), 1, 16) .. ':' .. digest
end

-- The index key expires with its latest member; an empty index is removed.
local function index_expiry(index)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if #top == 0 then redis.call('DEL', index) else redis.call('PEXPIREAT', index, top[2]) end
end
`;

/**
 * KEYS[1]: session key, KEYS[2]: its tag's index, KEYS[3..]: the principal's sessions, when the
 * store declares them for an eviction. ARGV: 1 digest, 2 value, 3 expiresAt ms, 4 principal ('' for
 * none), 5 now ms, 6 most sessions per principal (0: no limit), 7 'evict' | 'refuse', 8 version.
 * Creates the session only if the key is free and indexes it under its principal. At the limit:
 * 'refuse' answers { 'LIMIT', count }; 'evict' removes the least recently used of the principal's
 * sessions among those declared in KEYS, or, if too few were declared, answers { 'DECLARE',
 * digest… } (the principal's sessions now) without writing.
 * Returns { 'OK', evicted digest… }, or { 'TAKEN' } if the key is taken.
 */
export const CREATE_SESSION = `${COMMON}
if redis.call('EXISTS', KEYS[1]) == 1 then return { 'TAKEN' } end
local principal = ARGV[4]
local evicted = { 'OK' }
-- Indexed: a principal's session under a principal's tag (KEYS[2] is then its index).
local indexed = principal ~= '' and KEYS[2] ~= nil
if indexed then
  local now = tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ${PRUNE_MARGIN_MS}))
  local most = tonumber(ARGV[6])
  if most > 0 then
    local prefix = string.sub(redis.sha1hex(principal), 1, 16) .. ':'
    local mine = {}
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')) do
      if string.sub(m, 1, 17) == prefix then mine[#mine + 1] = string.sub(m, 18) end
    end
    local excess = #mine + 1 - most
    if excess > 0 and ARGV[7] == 'refuse' then return { 'LIMIT', #mine } end
    if excess > 0 then
      -- The victims must be among the sessions the store declared; any it did not know of are
      -- newer than its read of the index, so never the least recently used.
      local declared = {}
      for i = 3, #KEYS do declared[KEYS[i]] = true end
      local live = {}
      for _, digest in ipairs(mine) do
        local key = session_prefix .. digest
        if declared[key] then
          local s = decode(redis.call('GET', key))
          if s and s.principal == principal then
            live[#live + 1] = { last = s.last, digest = digest, key = key, version = s.version }
          else
            redis.call('ZREM', KEYS[2], prefix .. digest)
            excess = excess - 1
          end
        end
      end
      if excess > #live then
        local all = { 'DECLARE' }
        for _, d in ipairs(mine) do all[#all + 1] = d end
        return all
      end
      table.sort(live, function(a, b) return a.last < b.last end)
      for i = 1, excess do
        local victim = live[i]
        redis.call('DEL', victim.key)
        redis.call('ZREM', KEYS[2], prefix .. victim.digest)
        announce('REVOKED', victim.version + 1, victim.digest, 'EVICTED')
        evicted[#evicted + 1] = victim.digest
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if indexed then
  redis.call('ZADD', KEYS[2], ARGV[3], member(principal, ARGV[1]))
  index_expiry(KEYS[2])
end
announce('ISSUED', ARGV[8], ARGV[1])
return evicted
`;

/**
 * KEYS[1]: session key, KEYS[2]: its tag's index. ARGV: 1 digest, 2 reason, 3 owner ('' for any).
 * Removes the session (if `owner` is given, only if it is that principal's) and announces it
 * revoked, as one version past its last. Returns 1 if a session was removed, else 0 (and
 * announces nothing). A forward left by a rotation is no session: without an owner it is removed
 * and returned as it was stored (the service may then end the session it names); with one it is
 * left (a forward is nobody's) and the answer is 0.
 */
export const DESTROY_SESSION = `${COMMON}
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local s = decode(value)
if not s then
  if ARGV[3] ~= '' then return 0 end
  redis.call('DEL', KEYS[1])
  return value
end
if ARGV[3] ~= '' and s.principal ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[1])
if s.principal ~= '' and KEYS[2] then
  redis.call('ZREM', KEYS[2], member(s.principal, ARGV[1]))
  index_expiry(KEYS[2])
end
announce('REVOKED', s.version + 1, ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS[1]: session key, KEYS[2]: its tag's index. ARGV: 1 digest, 2 the lastAccessedAt ms the
 * read that decided this touch saw (13 digits), 3 now ms (13 digits), 4 the new expiresAt ms.
 * Slides the expiry of a session that is still there and was not used since that read;
 * otherwise does nothing (another instance touched or updated it first, or it is gone: a touch
 * never brings a session back and never moves lastAccessedAt backwards).
 * Returns 1, or false when nothing was written.
 */
export const TOUCH_SESSION = `${COMMON}
local s = decode(redis.call('GET', KEYS[1]))
if not s or s.last ~= ARGV[2] then return false end
local deadline = capped(ARGV[4], s)
redis.call('SETRANGE', KEYS[1], 2, ARGV[3])
redis.call('PEXPIREAT', KEYS[1], deadline)
if s.principal ~= '' and KEYS[2] then
  redis.call('ZADD', KEYS[2], deadline, member(s.principal, ARGV[1]))
  index_expiry(KEYS[2])
end
return 1
`;

/**
 * KEYS[1]: session key, KEYS[2]: its tag's index. ARGV:
 *   1 expected version or ''          2 new maxInactive seconds or ''
 *   3 principal: '' keep, '-' clear, '=' set to ARGV[4] (refused unless it is the principal already)
 *   5 max attribute bytes             6 now ms (13 digits)
 *   7 expiresAt ms                    8 the maxInactive seconds expiresAt was computed for
 *   9 n = number of names to unset    10..9+n names to unset, then name, json pairs to set
 *   last: the digest
 * Returns { 'OK', newValue } | { 'NOT_FOUND' } | { 'VERSION_CONFLICT', version }
 *       | { 'IDLE', maxInactive } (the deadline was computed for another idle time)
 *       | { 'PRINCIPAL' } (a change of principal: only a rotation may)
 *       | { 'PAYLOAD_TOO_LARGE', bytes }. Writes nothing unless it answers OK, and never writes
 * a key that is not there: an expired or revoked session stays gone. An update counts as use:
 * it restarts the idle clock at ARGV[6]. Mirrors applyPatch() in session/model.ts.
 */
export const UPDATE_SESSION = `${COMMON}
local value = redis.call('GET', KEYS[1])
local s = decode(value)
if not s then return { 'NOT_FOUND' } end
local digest = ARGV[#ARGV]

local order, attrs = {}, {}
while s.at() <= #value do
  local name = s.chunk()
  order[#order + 1] = name
  attrs[name] = s.chunk()
end

if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= s.version then
  return { 'VERSION_CONFLICT', s.version }
end
if (ARGV[3] == '-' and s.principal ~= '') or (ARGV[3] == '=' and ARGV[4] ~= s.principal) then
  return { 'PRINCIPAL' }
end
local max_inactive = s.max_inactive
if ARGV[2] ~= '' then max_inactive = ARGV[2] end
if max_inactive ~= ARGV[8] then
  return { 'IDLE', max_inactive }
end

local n_unset = tonumber(ARGV[9])
for i = 10, 9 + n_unset do
  attrs[ARGV[i]] = nil
end
for i = 10 + n_unset, #ARGV - 1, 2 do
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

local deadline = capped(ARGV[7], s)
local next_value = '2|' .. ARGV[6] .. '|' .. max_inactive .. '|' .. s.created .. '|' .. (s.version + 1) .. '|'
  .. s.absolute .. '|' .. s.lifetime .. '|' .. s.authenticated .. '|'
  .. #s.principal .. '|' .. s.principal .. #s.user_agent .. '|' .. s.user_agent .. #s.address .. '|' .. s.address
  .. table.concat(parts)
redis.call('SET', KEYS[1], next_value, 'PXAT', deadline)
if s.principal ~= '' and KEYS[2] then
  redis.call('ZADD', KEYS[2], deadline, member(s.principal, digest))
  index_expiry(KEYS[2])
end
announce('UPDATED', s.version + 1, digest)
return { 'OK', next_value }
`;

/**
 * KEYS[1]: the rotated session's key, KEYS[2]: its tag's index. ARGV: 1 digest, 2 the version
 * the rotation copied, 3 grace ms (0: remove at once), 4 the forward to leave for the grace.
 * Ends the session only if it is still at that version: it leaves the forward in its place for
 * the grace (or nothing), drops it from its principal's index and announces it revoked (ROTATED).
 * Returns 'RETIRED', 'CONFLICT' (it changed since it was copied) or 'GONE'.
 */
export const RETIRE_SESSION = `${COMMON}
local s = decode(redis.call('GET', KEYS[1]))
if not s then return 'GONE' end
if s.version ~= tonumber(ARGV[2]) then return 'CONFLICT' end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
if s.principal ~= '' and KEYS[2] then
  redis.call('ZREM', KEYS[2], member(s.principal, ARGV[1]))
  index_expiry(KEYS[2])
end
announce('REVOKED', s.version + 1, ARGV[1], 'ROTATED')
return 'RETIRED'
`;

/**
 * KEYS[1]: the copy's key, KEYS[2]: the tag's index, KEYS[3]: the rotated session's key (the same
 * tag: one slot). ARGV: 1 the copy's digest, 2 its value, 3 its expiresAt ms, 4 its principal ('' for
 * none), 5 now ms, 6 its version, 7 the rotated session's digest, 8 the version the rotation
 * copied, 9 grace ms (0: remove at once), 10 the forward to leave for the grace.
 * A rotation that keeps the principal, in one step: the copy is created and the old session
 * retired (as RETIRE_SESSION does) only if the copy's key is free and the old session is still
 * the principal's at the version copied; the index swaps one member for the other, so the
 * principal's count never changes and no limit applies. Returns 'RETIRED', or 'TAKEN', 'GONE' or
 * 'CONFLICT' having written nothing.
 */
export const REPLACE_SESSION = `${COMMON}
if redis.call('EXISTS', KEYS[1]) == 1 then return 'TAKEN' end
local s = decode(redis.call('GET', KEYS[3]))
if not s then return 'GONE' end
local principal = ARGV[4]
if s.version ~= tonumber(ARGV[8]) or s.principal ~= principal then return 'CONFLICT' end
if tonumber(ARGV[9]) > 0 then
  redis.call('SET', KEYS[3], ARGV[10], 'PX', ARGV[9])
else
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if principal ~= '' and KEYS[2] then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[5]) - ${PRUNE_MARGIN_MS}))
  redis.call('ZREM', KEYS[2], member(principal, ARGV[7]))
  redis.call('ZADD', KEYS[2], ARGV[3], member(principal, ARGV[1]))
  index_expiry(KEYS[2])
end
announce('REVOKED', s.version + 1, ARGV[7], 'ROTATED')
announce('ISSUED', ARGV[6], ARGV[1])
return 'RETIRED'
`;

/**
 * KEYS[1]: a tag's index, KEYS[2..]: the sessions of the principal it listed when the revoke
 * began. ARGV: 1 principal, 2 a digest to spare ('' for none), 3 reason.
 * Revokes each declared session that is still the principal's (announced, one version past its
 * last) and drops the principal's members from the index, but those of sessions it was not told
 * of (issued after the revoke began) and the one spared. Returns how many it revoked.
 */
export const REVOKE_PRINCIPAL = `${COMMON}
local principal = ARGV[1]
local prefix = string.sub(redis.sha1hex(principal), 1, 16) .. ':'
local declared = {}
for i = 2, #KEYS do declared[KEYS[i]] = true end
local removed = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local digest = string.sub(m, 18)
  local key = session_prefix .. digest
  if string.sub(m, 1, 17) == prefix and digest ~= ARGV[2] and declared[key] then
    local s = decode(redis.call('GET', key))
    if s and s.principal == principal then
      redis.call('DEL', key)
      announce('REVOKED', s.version + 1, digest, ARGV[3])
      removed[#removed + 1] = digest
    end
    redis.call('ZREM', KEYS[1], m)
  end
end
index_expiry(KEYS[1])
return removed
`;

/**
 * The session tokens' signing keys, replaced only at the version the caller read (KEYS[1], a
 * hash: `v`, `keys`; ARGV[1] the version read, 0 for none; ARGV[2] the new set). Returns
 * `{ version, false }` when it wrote (the set is the caller's), else `{ version, keys }` as held.
 */
export const WRITE_KEY_SET = `
local held = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if held ~= tonumber(ARGV[1]) then return { held, redis.call('HGET', KEYS[1], 'keys') } end
redis.call('HSET', KEYS[1], 'v', held + 1, 'keys', ARGV[2])
return { held + 1, false }
`;
