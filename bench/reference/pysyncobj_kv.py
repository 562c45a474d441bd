#!/usr/bin/env python3
"""Reference Raft key-value member for benchmarking, on pysyncobj.

One member of a pysyncobj cluster (the library the original orchestrator used)
holding a replicated dict, with the default SyncObjConf, behind a small
aiohttp front so p2p-bench drives it over HTTP like the other systems:

  POST /kv      {"key":K,"value":V} -> 200 {"key":K} once applied on this
                member; 503 with the pysyncobj failure reason; 504 after 10 s
  GET /status   -> {"self","leader","is_leader","commit_index","last_applied"}

A follower hands the command to the leader (pysyncobj forwards it). The
default configuration keeps the log in memory: nothing is written to disk, so
a restarted member copies the state from the leader.

Usage: pysyncobj_kv.py --raft HOST:PORT --partners HOST:PORT,HOST:PORT [--port N]
  --port 0 lets the OS choose the HTTP port; it is printed on stdout as a
  single line {"port":N} once the server is listening.
"""

import argparse
import asyncio
import json
import sys

from aiohttp import web
from pysyncobj import FAIL_REASON, SyncObj
from pysyncobj.batteries import ReplDict

from serving import dumps, serve_until_signal

COMMAND_TIMEOUT_S = 10



def json_response(body, status=200):
    return web.Response(body=dumps(body).encode(), status=status,
                        content_type="application/json")


def make_app(sync, kv):
    async def put(request):
        try:
            doc = json.loads(await request.read())
            key, value = doc["key"], doc["value"]
        except (ValueError, KeyError, TypeError):
            return json_response({"error": "body must be {\"key\",\"value\"}"}, 400)
        loop = asyncio.get_running_loop()
        outcome = loop.create_future()

        def settle(error):
            if not outcome.done():  # the request may have timed out meanwhile
                outcome.set_result(error)

        # Called on pysyncobj's own thread once the command is applied or failed.
        def done(_result, error):
            loop.call_soon_threadsafe(settle, error)

        kv.set(key, value, callback=done)
        try:
            error = await asyncio.wait_for(outcome, COMMAND_TIMEOUT_S)
        except asyncio.TimeoutError:
            return json_response({"error": "not applied in time"}, 504)
        if error != FAIL_REASON.SUCCESS:
            return json_response({"error": "not applied", "reason": error}, 503)
        return json_response({"key": key})

    async def status(_request):
        leader = sync._getLeader()
        return json_response({
            "self": sync.selfNode.address,
            "leader": leader.address if leader is not None else None,
            "is_leader": sync._isLeader(),
            "commit_index": sync.raftCommitIndex,
            "last_applied": sync.raftLastApplied,
        })

    app = web.Application()
    app.router.add_post("/kv", put)
    app.router.add_get("/status", status, allow_head=False)
    return app


async def serve(args):
    kv = ReplDict()
    sync = SyncObj(args.raft, args.partners.split(","), consumers=[kv])
    try:
        await serve_until_signal(make_app(sync, kv), "127.0.0.1", args.port)
    finally:
        sync.destroy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raft", required=True, help="this member's Raft address, host:port")
    parser.add_argument("--partners", required=True,
                        help="the other members' Raft addresses, comma-separated")
    parser.add_argument("--port", type=int, default=0,
                        help="HTTP port, 0 = chosen by the OS (default 0)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except OSError as e:
        print(f"pysyncobj_kv: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
