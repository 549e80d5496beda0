-- wrk script for bench/load.py: the mixed mobile workload of a sales team in the field.
--
--   LOAD_BDS=bds.txt LOAD_NONCE=r1 LOAD_MERCHANTS=merchants.txt WRK_STOP_FILE=/tmp/stop \
--   wrk -t2 -c50 -d600s --latency -s bench/load.lua http://127.0.0.1:8000
--
-- Mix per request (weighted random): nearby 55%, merchant detail 20%, check-in 10%, to-dos 10%,
-- claim 5%. LOAD_BDS: one BD per line, "<access token> <merchant>;<merchant>;..." with merchants as
-- "id,lat,lng" within a street of each other (where the BD stands and checks in). LOAD_MERCHANTS: one
-- public merchant id per line, claimed in order across threads (409 when taken or at the cap is valid).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_common.lua")

local bds, claimable = {}, {}
local counter = 0
local nonce, nthreads

function init(args)
  math.randomseed(9000 + id)
  nonce = os.getenv("LOAD_NONCE")
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  bds = read_bds(os.getenv("LOAD_BDS"))
  claimable = read_lines(os.getenv("LOAD_MERCHANTS"))
end

function request()
  counter = counter + 1
  local slot = counter * nthreads + id
  local bd = bds[(slot % #bds) + 1]
  local m = bd.merchants[math.random(#bd.merchants)]
  local auth = {["Authorization"] = "Bearer " .. bd.token}
  local lat, lng = at_door(m)
  local roll = math.random(100)
  if roll <= 55 then
    return counted(wrk.format("GET", string.format("/api/v1/merchants/nearby?lat=%.6f&lng=%.6f", lat, lng), auth))
  elseif roll <= 75 then
    return counted(wrk.format("GET", "/api/v1/merchants/" .. m.id, auth))
  elseif roll <= 85 then
    local body = checkin_body(m, lat, lng)
    auth["Idempotency-Key"] = nonce .. "-" .. id .. "-" .. counter
    auth["Content-Type"] = "application/json"
    return counted(wrk.format("POST", "/api/v1/visits", auth, body))
  elseif roll <= 95 then
    return counted(wrk.format("GET", "/api/v1/todos", auth))
  else
    local target = claimable[(slot % #claimable) + 1]
    return counted(wrk.format("POST", "/api/v1/leads/" .. target .. "/claim", auth, ""))
  end
end
