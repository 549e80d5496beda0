-- Shared by the scripted wrk benchmarks (checkin.lua, claims.lua); loaded with dofile by each.
--
-- 1. Counts, per thread, the requests sent, the responses received and the responses per status;
--    done() prints them as "WRKSTAT count sent N", "WRKSTAT count received N", "WRKSTAT status 201 N".
-- 2. Stops cleanly: once the file $WRK_STOP_FILE exists, a connection that gets its response sends
--    nothing more (delay() returns an hour). The driver then waits a few seconds and sends wrk SIGINT.
--    So no request is in flight when wrk exits ("sent == received"), and what the database holds can
--    be compared exactly with what the client saw; with plain -d, wrk abandons up to one request per
--    connection, which the server still completes.
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
