"""The Dask cluster a command runs on: a LocalCluster on this machine, or an existing scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hotspots.core.errors import NotReadyError, ValidationError

CONNECT_TIMEOUT_S = 10


@contextmanager
def dask_client(scheduler: str, local_workers: int = 2) -> Iterator[object]:
    """A ``dask.distributed.Client``: ``"local"`` starts a LocalCluster of ``local_workers`` processes
    (one thread each) on 127.0.0.1; ``"tcp://HOST:PORT"`` connects to a running scheduler."""
    try:
        import distributed
    except ImportError:
        raise NotReadyError("the cluster needs Dask: install it with \".venv/bin/pip install -e '.[national]'\"") from None
    if scheduler == "local":
        if local_workers < 1:
            raise ValidationError(f"local_workers={local_workers!r}: start at least 1 worker", arguments="local_workers")
        with distributed.LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    if not scheduler.startswith(("tcp://", "tls://")):
        raise ValidationError(f"scheduler={scheduler!r}: give 'local' or a scheduler address such as tcp://10.0.0.5:8786",
                              arguments="scheduler")
    try:
        client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as exc:
        raise NotReadyError(f"scheduler={scheduler!r}: no Dask scheduler answered within {CONNECT_TIMEOUT_S} s "
                            f"({type(exc).__name__}); start one with 'dask scheduler'", arguments="scheduler") from None
    with client:
        yield client
