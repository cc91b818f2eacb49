"""The worker's clock for the weekly cycle: runs what is due at start-up (catching up a run missed
while the service was down) and then every minute. Every worker runs one; the store's claims make
sure each period's run happens once (``hotspots.services.schedule``)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from hotspots.core.config import get_settings
from hotspots.services.schedule import WeeklyTime, run_due
from hotspots.store.db import Store
from hotspots.store.jobs import this_worker

log = logging.getLogger("hotspots.api.schedule")


class ScheduleClock:
    """A daemon thread calling :func:`run_due` every ``interval_s`` seconds, first at once."""

    def __init__(self, store: Store, region: Callable[[], object], interval_s: float = 60.0):
        settings = get_settings()
        if settings.schedule_weekly:  # a bad setting stops the service at start, not every minute after
            WeeklyTime.parse(settings.schedule_weekly, settings.timezone)
        self.store = store
        self.region = region
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hotspots-schedule", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for line in run_due(self.store, dt.datetime.now(dt.UTC), self.region(), worker=this_worker()):
                    log.info("scheduled: %s", line)
            except Exception:  # the clock keeps ticking; the next tick tries again
                log.exception("the scheduled run failed")
            self._stop.wait(self.interval_s)
