-- wrk script: rotates over the seeded sessions so every request reads a different one, and
-- checks every answer during the measured run.
-- BENCH_IDS: file with one line per request shape (an id, a cookie, or the ids of a batch).
-- BENCH_MODE: constant | header | cookie | graphql | batch | issue | token | introspect.
-- BENCH_TOKEN: service token for batch, issue and introspect.
-- BENCH_CHECK: how an answer is checked (below).  BENCH_BATCH: ids per batch (10, 100).
-- BENCH_SESSION_IDS: the seeded session IDs, in seeding order: line n of every lines file is
-- about session n (of a batch's: sessions size(n-1)+1 .. size n), whose user has id 100000 + n - 1.
--
-- The check. A wrong answer can look like a success (the REST shim answers an unknown ID with 200
-- and a new session), so each answer is matched to a request: wrk does not say which connection
-- (so which request) a response belongs to, but every request in flight reads a different
-- session, so an answer is right when it names a session (and that session's user) that a
-- request in flight asked for and that is still unanswered. Anything else, or a status other
-- than 200, is a mismatch. (Two concurrent requests answered with each other's sessions would
-- pass; the fixed-load run, `pace.c`, matches each answer to its own request exactly.)
--   ok       the body is the ceiling's {"ok":true}
--   user     the body is the user of a session in flight (floor, peer: they send no ID back)
--   rest     the X-Session-ID header names a session in flight, and the body is its user
--   graphql  the body's session id is a session in flight, and its user is that session's
--   batch    the body's BENCH_BATCH session ids and users are those of a batch in flight, in order
--   issued   the body is a new session's id (issue: every request issues one; its id is new, so
--            only its shape can be checked)
--   token    the body is a session token (token: a new one per request, so only its shape)
--   introspected  the body says active (introspect: a JWT of a seeded session per request)
local mode = os.getenv("BENCH_MODE")
local check = os.getenv("BENCH_CHECK") or "ok"
local token = os.getenv("BENCH_TOKEN") or ""
local batchSize = tonumber(os.getenv("BENCH_BATCH") or "10")
local lines = {}
for line in io.lines(os.getenv("BENCH_IDS")) do lines[#lines + 1] = line end
local index = {} -- session ID -> its line number
local sessionsFile = os.getenv("BENCH_SESSION_IDS")
if sessionsFile ~= nil and sessionsFile ~= "" then
  local n = 0
  for id in io.lines(sessionsFile) do
    n = n + 1
    index[id] = n
  end
end
local i = math.random(#lines)
-- Line i's key in `inFlight`: the seeded session it reads (a lines file may read one session on
-- many lines: the Zipf row's), else the line itself (cookies, batches: one line a session or batch).
local keyOf = {}
for n, line in ipairs(lines) do keyOf[n] = index[line] or n end

-- Per thread (read by done() through thread:get): answers checked, and mismatches among them.
checked = 0
mismatches = 0
local inFlight = {} -- session (or line) number -> requests sent for it and not yet answered

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

request = function()
  i = i % #lines + 1
  local key = keyOf[i]
  inFlight[key] = (inFlight[key] or 0) + 1
  local line = lines[i]
  if mode == "header" then
    return wrk.format("GET", wrk.path, { ["X-Session-ID"] = line })
  elseif mode == "cookie" then
    return wrk.format("GET", wrk.path, { ["Cookie"] = line })
  elseif mode == "graphql" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["X-Session-ID"] = line },
      '{"query":"{ session { id attributes } }"}')
  elseif mode == "issue" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"query":"mutation { issueSession { id } }"}')
  elseif mode == "token" then
    return wrk.format("POST", wrk.path, { ["X-Session-ID"] = line })
  elseif mode == "introspect" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Bearer " .. token },
      "token=" .. line)
  elseif mode == "batch" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"query":"query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }","variables":{"ids":[' .. line .. ']}}')
  end
  return wrk.format("GET", wrk.path)
end

-- Takes one request in flight for line n; false when there is none (the answer is not one asked for).
local function answered(n)
  local count = n and inFlight[n]
  if count == nil or count == 0 then return false end
  inFlight[n] = count - 1
  return true
end

local function userOf(n)
  return tostring(100000 + n - 1)
end

local function header(headers, name)
  for key, value in pairs(headers) do
    if string.lower(key) == name then return value end
  end
  return nil
end

local function matches(status, headers, body)
  if status ~= 200 then return false end
  if check == "ok" then
    return body == '{"ok":true}'
  elseif check == "user" then
    local user = tonumber(string.match(body, '^{"id":(%d+),'))
    return user ~= nil and answered(user - 100000 + 1)
  elseif check == "rest" then
    local n = index[header(headers, "x-session-id") or ""]
    return n ~= nil and string.match(body, '^{"id":(%d+),') == userOf(n) and answered(n)
  elseif check == "graphql" then
    local id, user = string.match(body, '^{"data":{"session":{"id":"([^"]+)","attributes":{"user":{"id":(%d+),')
    local n = index[id or ""]
    return n ~= nil and user == userOf(n) and answered(n)
  elseif check == "issued" then
    return string.match(body, '^{"data":{"issueSession":{"id":"[%w_%-]+"}}}%s*$') ~= nil
  elseif check == "token" then
    return string.match(body, '^{"token":"[%w_%-]+%.[%w_%-]+%.[%w_%-]+","tokenType":"Bearer"') ~= nil
  elseif check == "introspected" then
    return string.find(body, '"active":true', 1, true) ~= nil
  elseif check == "batch" then
    local first = index[string.match(body, '^{"data":{"sessions":%[{"id":"([^"]+)"') or ""]
    if first == nil then return false end
    local b = math.floor((first - 1) / batchSize) + 1 -- batch b holds sessions size(b-1)+1 .. size·b
    local k = 0
    for id, user in string.gmatch(body, '{"id":"([^"]+)","attributes":{"user":{"id":(%d+),') do
      local n = (b - 1) * batchSize + k + 1
      if index[id] ~= n or user ~= userOf(n) then return false end
      k = k + 1
    end
    return k == batchSize and answered(b)
  end
  return false
end

response = function(status, headers, body)
  checked = checked + 1
  if not matches(status, headers, body) then mismatches = mismatches + 1 end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local allChecked, allMismatches = 0, 0
  for _, thread in ipairs(threads) do
    allChecked = allChecked + thread:get("checked")
    allMismatches = allMismatches + thread:get("mismatches")
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"checked":%d,"mismatches":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), allChecked, allMismatches))
end
