-- wrk script: POST /raft/kv with a fixed body: one replicated write per request, answered once
-- committed and applied (the Raft commit path through the same HTTP front as the work routes).
-- Usage: wrk -s post-raft-kv.lua http://HOST:PORT/raft/kv
-- If P2P_TOKEN is set, it is sent as a bearer token.

wrk.method = "POST"
wrk.path = "/raft/kv"
wrk.body = '{"key":"wrk","value":"0123456789abcdef"}'
wrk.headers["Content-Type"] = "application/json"

local token = os.getenv("P2P_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
