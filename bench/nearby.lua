-- wrk script for the nearby benchmarks: every request asks about a random query point.
--
--   NEARBY_POINTS=points.txt NEARBY_PATH='/api/v1/merchants/nearby?radius_m=1000&limit=20&' \
--   NEARBY_TOKEN=<access token> wrk -t2 -c16 -d20s --latency -s bench/nearby.lua http://127.0.0.1:8000
--
-- NEARBY_POINTS: one "lat lng" per line. NEARBY_PATH: the path and query string up to where
-- "lat=..&lng=.." is appended (end it with "?" or "&"). NEARBY_TOKEN: optional bearer token.
-- NEARBY_QUANTILES: optional file for the latency quantiles (see done() below).
-- No response() callback on purpose: defining one makes wrk parse every body, costing CPU we share.

local points = {}
local counter = 0

function setup(thread)
  -- each thread has its own Lua state; give each a different random sequence
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(1000 + (id or 0))
  for line in io.lines(os.getenv("NEARBY_POINTS")) do
    local lat, lng = line:match("^(%S+)%s+(%S+)$")
    if lat then
      points[#points + 1] = "lat=" .. lat .. "&lng=" .. lng
    end
  end
  if #points == 0 then
    error("no points read from NEARBY_POINTS")
  end
  prefix = os.getenv("NEARBY_PATH")
  local token = os.getenv("NEARBY_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  return wrk.format("GET", prefix .. points[math.random(#points)])
end

-- At the end, write 1,000 evenly spaced latency quantiles (microseconds) to NEARBY_QUANTILES, so that
-- several short runs (interleaved with another server's) can be merged into one distribution.
function done(summary, latency, requests)
  local out = os.getenv("NEARBY_QUANTILES")
  if not out or out == "" then
    return
  end
  local f = assert(io.open(out, "w"))
  f:write(string.format("requests %d\n", summary.requests))
  for i = 0, 999 do
    local p = (i + 0.5) / 10
    f:write(string.format("%.2f %d\n", p, latency:percentile(p)))
  end
  f:close()
end
