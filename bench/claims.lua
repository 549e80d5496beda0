-- wrk script for bench/sea_sweep.py: every request claims a lead, POST /api/v1/leads/{id}/claim.
--
--   CLAIM_TARGETS=targets.txt CLAIM_TOKENS=tokens.txt WRK_STOP_FILE=/tmp/stop \
--   wrk -t2 -c8 -d600s --latency -s bench/claims.lua http://127.0.0.1:8000
--
-- CLAIM_TARGETS: one merchant id per line; thread i takes lines i, i+T, i+2T... in order, so no two
-- requests aim at the same merchant until the list wraps. CLAIM_TOKENS: one access token per line,
-- rotated per request (a BD may hold 100 private leads: the claims must be spread over many BDs).
-- 409 answers (LEAD_TAKEN, CLAIM_CAP_REACHED...) are valid; the driver counts every status.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_common.lua")

local targets, tokens = {}, {}
local counter = 0
local nthreads

function init(args)
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  targets = read_lines(os.getenv("CLAIM_TARGETS"))
  tokens = read_lines(os.getenv("CLAIM_TOKENS"))
end

function request()
  local slot = counter * nthreads + id
  counter = counter + 1
  local target = targets[(slot % #targets) + 1]
  local token = tokens[(slot % #tokens) + 1]
  return counted(wrk.format("POST", "/api/v1/leads/" .. target .. "/claim",
                            {["Authorization"] = "Bearer " .. token}, ""))
end
