"""Run the sideband loop as a worker of its own: claim live calls, join them, take over calls
whose holder died. For deployments that run the web processes with SIDEBAND_IN_PROCESS=off."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from voice.sideband import HOLDER, sideband_loop


class Command(BaseCommand):
    help = "Join every live call over the Realtime API's sideband, as one holder among many."

    def handle(self, *args, **options) -> None:
        if not settings.REALTIME_SIDEBAND:
            raise CommandError("REALTIME_SIDEBAND is off: there is nothing to join.")
        self.stdout.write(f"Sideband worker {HOLDER} claiming calls (Ctrl-C to stop)")
        try:
            asyncio.run(sideband_loop(holder=HOLDER, every_upstream=True))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
