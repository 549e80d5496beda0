-- wrk script for bench/replicas.py and bench/pgbouncer.py: BDs' reads only (what a replica can serve).
--
--   LOAD_BDS=bds.txt WRK_STOP_FILE=/tmp/stop wrk -t2 -c16 -d600s --latency -s bench/reads.lua http://127.0.0.1:8000
--
-- Mix per request (weighted random): nearby 70%, merchant detail 30%, each BD at one of its street's merchants.
-- LOAD_BDS: as bench/load.lua's, one BD per line, "<access token> <merchant>;<merchant>;...".

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_common.lua")

local bds = {}
local counter = 0
local nthreads

function init(args)
  math.randomseed(7000 + id)
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  bds = read_bds(os.getenv("LOAD_BDS"))
end

function request()
  counter = counter + 1
  local bd = bds[((counter * nthreads + id) % #bds) + 1]
  local m = bd.merchants[math.random(#bd.merchants)]
  local auth = {["Authorization"] = "Bearer " .. bd.token}
  if math.random(100) <= 70 then
    local lat, lng = at_door(m)
    return counted(wrk.format("GET", string.format("/api/v1/merchants/nearby?lat=%.6f&lng=%.6f", lat, lng), auth))
  end
  return counted(wrk.format("GET", "/api/v1/merchants/" .. m.id, auth))
end
