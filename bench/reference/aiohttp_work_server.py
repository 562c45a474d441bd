#!/usr/bin/env python3
"""Reference work-queue server for benchmarking, on aiohttp.

The worker API of the node's work queue -- POST /work/add, /work/claim and
/work/complete -- with the same JSON bodies, the same validation (unknown
fields, types, ranges, the same error envelope and codes) and the same bearer
token check, written the way a typical asyncio service would be. Everything
lives in this process's memory: no replication, no log, no fsync, no leases,
no events. That favours this baseline; p2p-bench says so next to its figures.

Usage: aiohttp_work_server.py [--host H] [--port N] [--token T]
  --port 0 lets the OS choose; the bound port is printed on stdout as a single
  line {"port":N} once the server is listening. Without --token no
  Authorization header is needed.
"""

import argparse
import asyncio
import datetime
import hmac
import heapq
import json
import sys

from aiohttp import web

from serving import dumps, serve_until_signal

NODE_ID = "bench"
MAX_ACTIVE = 10_000          # the node's --work-max-active default
MAX_PAYLOAD = 64 * 1024      # config and result, each
MAX_ADD_ITEMS = 1000
MAX_NAME = 256


# Field specs as in http/routes.cpp: name -> (type, required, min, max, item fields).
ITEM_FIELDS = {
    "work_type": ("string", True, None, None, None),
    "priority": ("integer", False, 0, 100, None),
    "config": ("object", False, None, None, None),
    "depends_on": ("array", False, None, None, None),
    "max_attempts": ("integer", False, 1, 100, None),
    "lease_s": ("integer", False, 1, 86400, None),
    "timeout_s": ("integer", False, 0, 31536000, None),
    "campaign_id": ("string", False, None, None, None),
}
ADD_FIELDS = {name: (t, False, lo, hi, sub) for name, (t, _req, lo, hi, sub) in ITEM_FIELDS.items()}
ADD_FIELDS["items"] = ("array", False, None, None, ITEM_FIELDS)
ADD_FIELDS["idempotency_key"] = ("string", False, None, None, None)
CLAIM_FIELDS = {
    "node_id": ("string", True, None, None, None),
    "work_types": ("array", False, None, None, None),
    "max_items": ("integer", False, 1, 100, None),
    "wait_s": ("number", False, 0, 60, None),
    "request_id": ("string", False, None, None, None),
}
COMPLETE_FIELDS = {
    "work_id": ("string", True, None, None, None),
    "claim_token": ("string", True, None, None, None),
    "result": ("object", False, None, None, None),
}


class Refused(Exception):
    def __init__(self, status, code, message, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def bad_request(field, why):
    return Refused(400, "bad_request", f"{field} {why}", {"field": field})


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_value(v, spec, path):
    kind, _required, lo, hi, sub = spec
    if kind == "string":
        ok = isinstance(v, str)
    elif kind == "integer":
        ok = is_number(v) and float(v).is_integer()
    elif kind == "number":
        ok = is_number(v)
    elif kind == "object":
        ok = isinstance(v, dict)
    else:
        ok = isinstance(v, list)
    if not ok:
        raise bad_request(path, f"must be {kind}")
    if kind in ("integer", "number") and ((lo is not None and v < lo) or (hi is not None and v > hi)):
        raise bad_request(path, f"must be >= {lo} and <= {hi}")
    if kind == "array" and sub is not None:
        for i, x in enumerate(v):
            if not isinstance(x, dict):
                raise bad_request(f"{path}.{i}", "must be object")
            validate(x, sub, f"{path}.{i}")


def validate(obj, fields, prefix=""):
    if not isinstance(obj, dict):
        raise bad_request(prefix or "body", "must be a JSON object")
    for key, v in obj.items():
        path = f"{prefix}.{key}" if prefix else key
        spec = fields.get(key)
        if spec is None:
            raise bad_request(path, "unknown field")
        check_value(v, spec, path)
    for key, spec in fields.items():
        if spec[1] and key not in obj:
            raise bad_request(f"{prefix}.{key}" if prefix else key, "is required")


def rfc3339(ms):
    if not ms:
        return None
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_ms():
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)


def config_key(config):
    key = config.get("config_key")
    if key is not None:
        if not isinstance(key, str):
            raise bad_request("config.config_key", "must be a string")
        return key
    board, players = config.get("board_type"), config.get("num_players")
    if isinstance(board, str) and isinstance(players, int) and not isinstance(players, bool) and players >= 0:
        return f"{board}_{players}p"
    return None


class Queue:
    """The work lifecycle's add, claim and complete, in memory."""

    def __init__(self):
        self.items = {}            # work_id -> item dict (the fields the node answers with)
        self.pending = []          # heap of (-priority, seq, work_id); stale entries skipped
        self.active = 0
        self.next_seq = 1
        self.next_index = 1        # stands in for the Raft log index in ids and tokens
        self.idempotency = {}      # key -> (body, answer)
        self.requests = {}         # (node_id, request_id) -> answer

    def add(self, doc):
        key = doc.get("idempotency_key")
        if key is not None:
            first = self.idempotency.get(key)
            if first is not None:
                if first[0] != doc:
                    raise Refused(409, "conflict", "idempotency key reused with another body",
                                  {"field": "idempotency_key"})
                return dict(first[1], replayed=True)
        if "items" in doc:
            for f in ITEM_FIELDS:
                if f in doc:
                    raise bad_request(f, "give one item's fields or items, not both")
            new = doc["items"]
        elif "work_type" not in doc:
            raise bad_request("work_type", "is required (or give items: a list of items)")
        else:
            new = [{k: v for k, v in doc.items() if k in ITEM_FIELDS}]
        if not new:
            raise Refused(400, "bad_request", "no items to add", {"field": "items"})
        if len(new) > MAX_ADD_ITEMS:
            raise Refused(400, "bad_request", f"at most {MAX_ADD_ITEMS} items per add", {"field": "items"})
        index = self.next_index
        self.next_index += 1
        ids = [f"w-{index}-{i}" for i in range(len(new))]
        # Validate everything before changing anything: an add is all or nothing.
        prepared = []
        for i, n in enumerate(new):
            where = f" (item {i})" if len(new) > 1 else ""
            work_type = n["work_type"]
            if not 1 <= len(work_type.encode()) <= MAX_NAME:
                raise bad_request("work_type", "must be 1 to 256 bytes" + where)
            config = n.get("config", {})
            if len(dumps(config)) > MAX_PAYLOAD:
                raise Refused(413, "payload_too_large", f"config exceeds {MAX_PAYLOAD} bytes{where}",
                              {"field": "config"})
            deps = n.get("depends_on", [])
            resolved = []
            for d in deps:
                if not isinstance(d, str):
                    raise bad_request("depends_on", "must be an array of work ids")
                if d.startswith("#") and d[1:].isdigit() and int(d[1:]) < i:
                    resolved.append(ids[int(d[1:])])
                elif d in self.items:
                    resolved.append(d)
                else:
                    raise bad_request("depends_on", f"unknown dependency {d}{where}")
            prepared.append((n, config, config_key(config), resolved))
        if self.active + len(new) > MAX_ACTIVE:
            raise Refused(429, "backpressure",
                          f"the queue holds {self.active} unfinished items; the limit is {MAX_ACTIVE}",
                          {"retry_after_ms": 1000})
        t = now_ms()
        for work_id, (n, config, ckey, deps) in zip(ids, prepared):
            seq = self.next_seq
            self.next_seq += 1
            priority = int(n.get("priority", 50))
            self.items[work_id] = {
                "work_id": work_id, "work_type": n["work_type"], "priority": priority, "config": config,
                "config_key": ckey, "depends_on": deps, "status": "pending", "attempts": 0,
                "max_attempts": int(n.get("max_attempts", 3)), "lease_s": int(n.get("lease_s", 60)),
                "timeout_s": int(n.get("timeout_s", 0)), "claimed_by": None, "claim_token": None,
                "created_at": t, "claimed_at": 0, "started_at": 0, "finished_at": 0, "updated_at": t,
                "progress": {"fraction": 0, "message": ""}, "result": None, "error": None,
                "campaign_id": n.get("campaign_id"), "_seq": seq,
            }
            heapq.heappush(self.pending, (-priority, seq, work_id))
            self.active += 1
        answer = {"work_ids": ids, "replayed": False}
        if key is not None:
            self.idempotency[key] = (doc, answer)
        return answer

    def claimable(self, x, types):
        if types and x["work_type"] not in types:
            return False
        return all(self.items[d]["status"] == "completed" for d in x["depends_on"])

    def claim(self, doc):
        node = doc["node_id"]
        request_id = doc.get("request_id")
        if request_id is not None:
            first = self.requests.get((node, request_id))
            if first is not None:
                return dict(first, replayed=True)
        types = doc.get("work_types", [])
        if not all(isinstance(t, str) for t in types):
            raise Refused(400, "bad_request", "work_types must be an array of strings", {"field": "work_types"})
        wanted = int(doc.get("max_items", 1))
        chosen, passed = [], []
        while self.pending and len(chosen) < wanted:
            entry = heapq.heappop(self.pending)
            x = self.items.get(entry[2])
            if x is None or x["status"] != "pending":
                continue
            (chosen if self.claimable(x, types) else passed).append(x)
        for entry in passed:
            heapq.heappush(self.pending, (-entry["priority"], entry["_seq"], entry["work_id"]))
        if not chosen:
            return {"status": "no_work"}
        index = self.next_index
        self.next_index += 1
        token = f"1.{index}"
        t = now_ms()
        for x in chosen:
            x.update(status="claimed", claimed_by=node, claim_token=token, claimed_at=t, started_at=0,
                     updated_at=t, progress={"fraction": 0, "message": ""})
            x["attempts"] += 1
        answer = {"status": "claimed", "items": [view(x) for x in chosen]}
        if request_id is not None:
            self.requests[(node, request_id)] = answer
        return answer

    def complete(self, doc):
        x = self.items.get(doc["work_id"])
        if x is None:
            raise Refused(404, "not_found", f"no work item {doc['work_id']}")
        token = doc["claim_token"]
        if x["status"] == "completed" and token == x["claim_token"]:
            return {"status": "duplicate"}
        if x["status"] not in ("claimed", "running") or token != x["claim_token"]:
            why = ("the claim token is not the item's current claim" if token != x["claim_token"]
                   else f"the item is {x['status']}")
            raise Refused(409, "conflict", why, {"current_status": x["status"]})
        result = doc.get("result", {})
        if len(dumps(result)) > MAX_PAYLOAD:
            raise Refused(413, "payload_too_large",
                          f"result exceeds {MAX_PAYLOAD} bytes; store larger outputs as artifacts",
                          {"field": "result"})
        t = now_ms()
        x.update(status="completed", result=result, finished_at=t, updated_at=t)
        if not x["started_at"]:
            x["started_at"] = t
        self.active -= 1
        return {"status": "completed"}


def view(x):
    out = {k: v for k, v in x.items() if not k.startswith("_")}
    for k in ("created_at", "claimed_at", "started_at", "finished_at", "updated_at"):
        out[k] = rfc3339(x[k])
    return out


def json_response(body, status=200):
    return web.Response(body=dumps(body).encode(), status=status, content_type="application/json",
                        headers={"X-Node-ID": NODE_ID})


def error_response(e):
    return json_response({"error": e.message, "code": e.code, "status": e.status, "details": e.details},
                         e.status)


def make_app(token):
    queue = Queue()
    expected = f"Bearer {token}".encode() if token else None

    def route(fields, handler, status=200):
        async def serve(request):
            if expected is not None and not hmac.compare_digest(
                    request.headers.get("Authorization", "").encode(), expected):
                return error_response(Refused(401, "unauthorized", "missing or wrong bearer token"))
            try:
                doc = json.loads(await request.read())
            except ValueError:  # covers JSONDecodeError and UnicodeDecodeError
                return error_response(Refused(400, "bad_request", "request body is not valid JSON"))
            try:
                validate(doc, fields)
                return json_response(handler(doc), status)
            except Refused as e:
                return error_response(e)
        return serve

    app = web.Application()
    app.router.add_post("/work/add", route(ADD_FIELDS, queue.add, 201))
    app.router.add_post("/work/claim", route(CLAIM_FIELDS, queue.claim))
    app.router.add_post("/work/complete", route(COMPLETE_FIELDS, queue.complete))
    return app


async def serve(host, port, token):
    await serve_until_signal(make_app(token), host, port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 = chosen by the OS (default 0)")
    parser.add_argument("--token", default="", help="bearer token every request must carry (default: none)")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    try:
        asyncio.run(serve(args.host, args.port, args.token))
    except OSError as e:
        print(f"aiohttp_work_server: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
