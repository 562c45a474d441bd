#!/usr/bin/env python3
"""Reference HTTP server for benchmarking, on aiohttp.

Serves the same two admin routes as the node, with the same JSON bodies, as
a point of comparison for a typical asyncio service.

Usage: aiohttp_server.py [--host H] [--port N]
  --port 0 lets the OS choose; the bound port is printed on stdout as a single
  line {"port":N} once the server is listening.
"""

import argparse
import asyncio
import json
import sys
import time

from aiohttp import web

from serving import dumps, serve_until_signal

NODE_ID = "bench"
NODE_UUID = "00000000-0000-0000-0000-000000000000"
VERSION = "0.1.0"
LEVELS = ("trace", "debug", "info", "warn", "error")

START = time.monotonic()

def json_response(body, status=200):
    # Bytes body: with text=, aiohttp would append "; charset=utf-8".
    return web.Response(
        body=dumps(body).encode(),
        status=status,
        content_type="application/json",
        headers={"X-Node-ID": NODE_ID},
    )


def error_response(message, code, status, field=None):
    body = {"error": message, "code": code, "status": status}
    if field is not None:
        body["details"] = {"field": field}
    return json_response(body, status)


def bad_level(message):
    return error_response(message, "bad_request", 400, "level")


async def health(_request):
    return json_response(
        {
            "status": "ok",
            "node_id": NODE_ID,
            "node_uuid": NODE_UUID,
            "uptime_s": int(time.monotonic() - START),
            "version": VERSION,
        }
    )


async def log_level(request):
    try:
        doc = json.loads(await request.read())
    except ValueError:  # covers JSONDecodeError and UnicodeDecodeError
        return bad_level("request body is not valid JSON")
    if not isinstance(doc, dict):
        return bad_level("request body must be a JSON object")
    level = doc.get("level")
    if not isinstance(level, str):
        return bad_level("field 'level' must be a string")
    if level not in LEVELS:
        return bad_level("level must be one of trace, debug, info, warn, error")

    state = request.app["state"]
    previous = state["level"]
    state["level"] = level  # single-threaded event loop: no lock needed
    return json_response({"level": level, "previous": previous})


@web.middleware
async def not_found_as_json(request, handler):
    # aiohttp answers unknown routes (and wrong methods) with plain-text
    # errors; the node answers every unknown route with a JSON 404.
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return error_response("no such route", "not_found", 404)


def make_app():
    app = web.Application(middlewares=[not_found_as_json])
    # A mutable holder: the app mapping itself is frozen once started.
    app["state"] = {"level": "info"}
    app.router.add_get("/admin/health", health, allow_head=False)
    app.router.add_post("/admin/log-level", log_level)
    return app


async def serve(host, port):
    await serve_until_signal(make_app(), host, port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port, 0 = chosen by the OS (default 0)")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as e:
        print(f"aiohttp_server: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
