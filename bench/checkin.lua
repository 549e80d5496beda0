-- wrk script for bench/checkin.py: every request is a new check-in, POST /api/v1/visits.
--
--   CHECKIN_BDS=bds.txt CHECKIN_NONCE=r1a2 WRK_STOP_FILE=/tmp/stop \
--   wrk -t2 -c8 -d600s --latency -s bench/checkin.lua http://127.0.0.1:8000
--
-- CHECKIN_BDS: one BD per line, "<access token> <merchant>;<merchant>;..." where a merchant is
-- "id,lat,lng" (WGS84). A BD's merchants are within ~120 m of each other: the impossible-speed check
-- compares a check-in with the same BD's previous one, and real BDs walk a street, not the city.
-- Requests rotate over the BDs. Idempotency-Key: nonce-thread-counter, unique per request and run.
-- CHECKIN_NONCE: this run's prefix, so the driver can count exactly this run's visits.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_common.lua")

local bds = {}
local counter = 0
local nonce, nthreads

function init(args)
  math.randomseed(7000 + id)
  nonce = os.getenv("CHECKIN_NONCE")
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  bds = read_bds(os.getenv("CHECKIN_BDS"))
end

function request()
  counter = counter + 1
  -- threads interleave over the BD list, so both threads do not hammer the same BD at once
  local bd = bds[((counter * nthreads + id) % #bds) + 1]
  local m = bd.merchants[math.random(#bd.merchants)]
  local body = checkin_body(m, at_door(m))
  local headers = {
    ["Authorization"] = "Bearer " .. bd.token,
    ["Idempotency-Key"] = nonce .. "-" .. id .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }
  return counted(wrk.format("POST", "/api/v1/visits", headers, body))
end
