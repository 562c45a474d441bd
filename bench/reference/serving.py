"""Serving plumbing shared by the Python baselines: run an aiohttp app until SIGINT/SIGTERM."""
import asyncio
import json
import signal

from aiohttp import web

# Compact separators so the bodies match the C++ servers byte for byte.
dumps = json.JSONEncoder(separators=(",", ":")).encode


async def serve_until_signal(app, host, port):
    """Serves `app`, prints {"port": N} (the real port, also with port 0) and returns on a signal."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(dumps({"port": runner.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
