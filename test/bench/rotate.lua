-- wrk script: rotates over the seeded sessions so every request reads a different one.
-- BENCH_IDS: file with one line per request shape (an id, a cookie, or ten ids for a batch).
-- BENCH_MODE: header | cookie | graphql | batch.  BENCH_TOKEN: service token for batch.
local mode = os.getenv("BENCH_MODE")
local token = os.getenv("BENCH_TOKEN") or ""
local lines = {}
for line in io.lines(os.getenv("BENCH_IDS")) do lines[#lines + 1] = line end
local i = math.random(#lines)

request = function()
  i = i % #lines + 1
  local line = lines[i]
  if mode == "header" then
    return wrk.format("GET", wrk.path, { ["X-Session-ID"] = line })
  elseif mode == "cookie" then
    return wrk.format("GET", wrk.path, { ["Cookie"] = line })
  elseif mode == "graphql" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["X-Session-ID"] = line },
      '{"query":"{ session { id attributes } }"}')
  elseif mode == "batch" then
    return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"query":"query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }","variables":{"ids":[' .. line .. ']}}')
  end
  return wrk.format("GET", wrk.path)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
