-- wrk script: workers' claim -> complete cycles against POST /work/claim and /work/complete.
-- Usage: wrk -t1 -s work-cycle.lua http://HOST:PORT
-- Environment: P2P_TOKEN (sent as a bearer token when set), WORK_TYPE (default "bench"),
-- WORK_NODE_ID (the claiming node's id, default "bench"), WORK_RUN (a tag that keeps this run's
-- request ids apart from earlier runs': a repeated request id replays the first answer).
--
-- wrk hands responses to one Lua state per thread without saying which connection they came on,
-- so a claimed item is completed by whichever connection asks next: each request completes a
-- claimed item when one is waiting, otherwise claims one (max_items 1, a fresh request_id). The
-- stock of pending items stays level: every 100 completions, one add of 100 items.
-- done() prints one line the bench checks:
--   work-cycle: claims=N completes=N adds=N no_work=N replayed=N errors=N

local work_type = os.getenv("WORK_TYPE") or "bench"
local node_id = os.getenv("WORK_NODE_ID") or "bench"
local run = os.getenv("WORK_RUN") or "run"
local refill = 100

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("P2P_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local add_body
do
  local items = {}
  for i = 1, refill do items[i] = '{"work_type":"' .. work_type .. '"}' end
  add_body = '{"items":[' .. table.concat(items, ",") .. ']}'
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (each thread has its own copy of these).
local claimed = {}     -- {work_id, claim_token} waiting to be completed
claims, completes, adds, no_work, replayed, errors = 0, 0, 0, 0, 0, 0
local owed = 0         -- completions not yet replaced by an add

function request()
  if owed >= refill then
    owed = owed - refill
    adds = adds + 1
    return wrk.format(nil, "/work/add", nil, add_body)
  end
  local item = table.remove(claimed)
  if item then
    completes = completes + 1
    owed = owed + 1
    return wrk.format(nil, "/work/complete", nil,
                      '{"work_id":"' .. item[1] .. '","claim_token":"' .. item[2] .. '","result":{}}')
  end
  claims = claims + 1
  return wrk.format(nil, "/work/claim", nil,
                    '{"node_id":"' .. node_id .. '","work_types":["' .. work_type ..
                    '"],"max_items":1,"request_id":"' .. run .. '-' .. claims .. '"}')
end

function response(status, headers, body)
  if status ~= 200 and status ~= 201 then
    errors = errors + 1
    return
  end
  local id, claim_token = body:match('"work_id":"([^"]+)".-"claim_token":"([^"]+)"')
  if id and body:find('"replayed":true', 1, true) then
    replayed = replayed + 1  -- an item handed out before: not claimable again
  elseif id then
    table.insert(claimed, {id, claim_token})
  elseif body:find('"no_work"', 1, true) then
    no_work = no_work + 1
  end
end

function done(summary, latency, requests)
  local t = {claims = 0, completes = 0, adds = 0, no_work = 0, replayed = 0, errors = 0}
  for _, thread in ipairs(threads) do
    for k in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  io.write(string.format("work-cycle: claims=%d completes=%d adds=%d no_work=%d replayed=%d errors=%d\n",
                         t.claims, t.completes, t.adds, t.no_work, t.replayed, t.errors))
end
