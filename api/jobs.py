"""Runs long work (training, backtests) after the request that started it has been answered.

The job's state lives in the store (``hotspots.store.jobs``), so any worker can report it. Each
worker runs one job at a time, in a daemon thread: a stopping service does not wait for a
training to finish; the job is marked interrupted instead and can be started again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hotspots.core.errors import HotspotsError
from hotspots.store import jobs as stored
from hotspots.store.db import Store

log = logging.getLogger("hotspots.api.jobs")

#: What a job does: given a progress callback (share 0..1, one line), it returns its result and a last line.
Work = Callable[[Callable[[float, str], None]], tuple[dict, str]]


class JobRunner:
    """One worker's jobs: queued in order, run one at a time."""

    def __init__(self, store: Store):
        self.store = store
        self._turn = threading.Lock()

    def submit(self, kind: str, parameters: dict, actor: str, work: Work) -> int:
        """Queue ``work`` as a job (audited as ``actor``) and return its id at once."""
        job_id = stored.create_job(self.store, kind, parameters, actor=actor)
        threading.Thread(target=self._run, args=(job_id, work), name=f"hotspots-job-{job_id}", daemon=True).start()
        return job_id

    def _run(self, job_id: int, work: Work) -> None:
        with self._turn:
            try:
                stored.start_job(self.store, job_id)
                result, message = work(lambda share, line: stored.report_progress(self.store, job_id, share, line))
            except HotspotsError as exc:
                stored.fail_job(self.store, job_id, str(exc))
            except Exception:  # a job's failure must not take the worker down; the row says it failed
                log.exception("job %s failed", job_id)
                stored.fail_job(self.store, job_id, "internal error; it has been logged")
            else:
                stored.finish_job(self.store, job_id, result, message)

    def stop(self) -> None:
        """Mark this worker's unfinished jobs interrupted; their threads end with the process."""
        stored.interrupt_worker(self.store, stored.this_worker())
