-- wrk script: POST /admin/log-level with a fixed, valid body.
-- Usage: wrk -s post-log-level.lua http://HOST:PORT
-- If P2P_TOKEN is set, it is sent as a bearer token (the node requires one
-- for admin routes; the reference servers ignore it).
--
-- The level is always "info" so every request does the same amount of work
-- and the server's state does not drift during the run.

wrk.method = "POST"
wrk.path = "/admin/log-level"
wrk.body = '{"level":"info"}'
wrk.headers["Content-Type"] = "application/json"

local token = os.getenv("P2P_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
