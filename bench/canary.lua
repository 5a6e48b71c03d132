-- wrk script for bench/canary.sh: wrk's totals as one JSON line (prefixed `RESULT `, as
-- bench/result.lua prints them), plus what a client can tell of a rollout to a bad revision:
--   wrk ... -s bench/canary.lua URL -- MARKER
-- counts the responses whose body ends in `revision MARKER` (manifests/apps/web.js adds its
-- MARKER env), and when (unix ms, wall clock: comparable with corral's event times) the first
-- and the last of them, and the first and the last 5xx, arrived. The response() hook costs wrk
-- its fast path: the load is the same for every run of the part, so the runs compare.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } canary_timespec;
  int clock_gettime(int clock, canary_timespec *ts);
]]
local ts = ffi.new("canary_timespec")
local function now_ms()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME
  return tonumber(ts.tv_sec) * 1000 + math.floor(tonumber(ts.tv_nsec) / 1e6)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  needle = " revision " .. (args[1] or "none") .. "\n"
  marked, errors5xx = 0, 0
  first_marked, last_marked, first_5xx, last_5xx = 0, 0, 0, 0
end

function response(status, headers, body)
  local t
  if body and string.find(body, needle, 1, true) then
    t = now_ms()
    marked = marked + 1
    if first_marked == 0 then first_marked = t end
    last_marked = t
  end
  if status >= 500 then
    t = t or now_ms()
    errors5xx = errors5xx + 1
    if first_5xx == 0 then first_5xx = t end
    last_5xx = t
  end
end

-- The earliest (or latest) non-zero value of a per-thread global.
local function across(name, latest)
  local best = 0
  for _, thread in ipairs(threads) do
    local v = thread:get(name) or 0
    if v ~= 0 and (best == 0 or (latest and v > best) or (not latest and v < best)) then best = v end
  end
  return best
end

done = function(summary, latency, requests)
  local e = summary.errors
  local m, x = 0, 0
  for _, thread in ipairs(threads) do
    m = m + (thread:get("marked") or 0)
    x = x + (thread:get("errors5xx") or 0)
  end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"status":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"marked":%d,"errors5xx":%d,"firstMarkedMs":%d,"lastMarkedMs":%d,"first5xxMs":%d,"last5xxMs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    m, x, across("first_marked", false), across("last_marked", true),
    across("first_5xx", false), across("last_5xx", true)))
end
