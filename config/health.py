"""`/healthz`: is the database reachable, and does the channel layer deliver?"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 3.0


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer_ok() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("the channel layer returned another message")


async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": sync_to_async(_database_ok)(), "channel_layer": _channel_layer_ok()}
    report: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT_S)
            report[name] = "ok"
        except Exception as exc:  # any failure is reported, none is raised
            log.warning("health check %s failed: %s", name, exc.__class__.__name__)
            report[name] = "unavailable"
    healthy = all(value == "ok" for value in report.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **report}, status=200 if healthy else 503)
