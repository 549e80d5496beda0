-- Shared by the scripted wrk benchmarks (checkin.lua, claims.lua, load.lua); loaded with dofile by each.
--
-- 1. Counts, per thread, the requests sent, the responses received and the responses per status;
--    done() prints them as "WRKSTAT count sent N", "WRKSTAT count received N", "WRKSTAT status 201 N".
-- 2. Stops cleanly: once the file $WRK_STOP_FILE exists, a connection that gets its response sends
--    nothing more (delay() returns an hour). The driver then waits a few seconds and sends wrk SIGINT.
--    So no request is in flight when wrk exits ("sent == received"), and what the database holds can
--    be compared exactly with what the client saw; with plain -d, wrk abandons up to one request per
--    connection, which the server still completes.
--
-- 3. Reads the inputs the driver writes (read_lines, read_bds) and builds a check-in at a BD's merchant
--    (at_door, checkin_body), as checkin.lua and load.lua both send them.
--
-- A script using this file defines request() and calls counted(req) on what it returns.

local stop_file = os.getenv("WRK_STOP_FILE")
local threads = {}
local next_id = 0

sent, received, stopping = 0, 0, false
statuses = {}
-- wrk calls request() once before any connection exists, to verify the script; that call sends
-- nothing. Every real request is preceded by a delay() call, so count only after the first one.
local running = false

function setup(thread)
  -- every thread runs in its own Lua state: number them so scripts can make unique keys and strides
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function counted(req)
  if running then
    sent = sent + 1
  end
  return req
end

function delay()
  running = true
  if not stopping and stop_file then
    local handle = io.open(stop_file, "r")
    if handle then
      handle:close()
      stopping = true
    end
  end
  if stopping then
    return 3600000
  end
  return 0
end

function response(status, headers, body)
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals, by_status = {sent = 0, received = 0}, {}
  for _, thread in ipairs(threads) do
    totals.sent = totals.sent + thread:get("sent")
    totals.received = totals.received + thread:get("received")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  io.write(string.format("WRKSTAT count sent %d\nWRKSTAT count received %d\n", totals.sent, totals.received))
  for status, n in pairs(by_status) do
    io.write(string.format("WRKSTAT status %d %d\n", status, n))
  end
end

-- lines of a file as a table (error if empty: a benchmark without inputs measures nothing)
function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  if #lines == 0 then
    error("no lines in " .. tostring(path))
  end
  return lines
end

-- BDs from a file written by harness.write_bds_file: one per line, "<access token> <merchant>;<merchant>;..."
-- with each merchant "id,lat,lng" (WGS84); returns {token = ..., merchants = {{id =, lat =, lng =}, ...}}.
function read_bds(path)
  local bds = {}
  for _, line in ipairs(read_lines(path)) do
    local token, list = line:match("^(%S+)%s+(%S+)$")
    local merchants = {}
    for mid, lat, lng in list:gmatch("(%d+),([%d.-]+),([%d.-]+)") do
      merchants[#merchants + 1] = {id = tonumber(mid), lat = tonumber(lat), lng = tonumber(lng)}
    end
    bds[#bds + 1] = {token = token, merchants = merchants}
  end
  return bds
end

-- where a BD stands checking in at merchant m: within ~25 m of the shop, as at the door
function at_door(m)
  local lat = m.lat + (math.random() - 0.5) * 0.0004
  local lng = m.lng + (math.random() - 0.5) * 0.0005
  return lat, lng
end

-- the body of POST /api/v1/visits at merchant m from (lat, lng), client_time now (UTC)
function checkin_body(m, lat, lng)
  return string.format(
    '{"merchant_id":%d,"lat":%.7f,"lng":%.7f,"accuracy_m":%d,"client_time":"%s"}',
    m.id, lat, lng, math.random(5, 30), os.date("!%Y-%m-%dT%H:%M:%SZ"))
end
