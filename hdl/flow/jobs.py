"""Where long jobs run: local worker processes, or a Dask cluster.

A sweep's Verilator runs and its place-and-route runs (15-60 minutes each for a large design on
the ECP5-85F) are independent jobs. ``Runner`` gives them one interface whichever runs them:

- ``Runner(workers=N)``: N local processes (``concurrent.futures``), the default;
- ``Runner(scheduler="tcp://host:8786")``: the workers of a running Dask scheduler
  (``dask.distributed``; start one with ``dask scheduler`` and ``dask worker ADDRESS`` on each
  machine). ``scheduler`` may also be a ``distributed.LocalCluster``.

A Dask worker runs the job function in its own Python: every machine needs the project
installed the same way (``make setup`` in the same checkout, or ``pip install`` of it) and the
YoWASP tools it brings. A job writes its files under the folder it is given: on a shared
filesystem they land beside the local run's, otherwise they stay on the worker and only the
job's result (figures, critical path) comes back.

``submit(fn, arg)`` returns a future; ``wait_any(pending)`` blocks until at least one is done
and returns ``(done, still_pending)``; a finished future's ``result()`` gives the job's value
or raises its error, for either kind.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_local

# seconds to wait for a Dask scheduler to answer before saying it does not
CONNECT_TIMEOUT = 15


class SchedulerError(RuntimeError):
    """No Dask scheduler answers at the address given (a user's mistake: say it, exit 2)."""


class Runner:
    def __init__(self, scheduler=None, workers: int = 1, timeout: float = CONNECT_TIMEOUT):
        self.scheduler = scheduler
        self.workers = workers
        self.timeout = timeout
        self._pool = None
        self._client = None

    def __enter__(self) -> "Runner":
        if self.scheduler is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
            return self
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - a dependency of the project
            raise SchedulerError("--scheduler needs dask.distributed: run `make setup`") from e
        try:
            # the default client while it is open: ``distributed.wait`` finds it so
            self._client = Client(self.scheduler, timeout=self.timeout)
        except (OSError, TimeoutError) as e:
            raise SchedulerError(
                f"--scheduler {self.scheduler}: no Dask scheduler answered within "
                f"{self.timeout:g} s ({e}); start one with `dask scheduler` and give its "
                f"address (tcp://HOST:8786), or leave --scheduler out to run here") from e
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def describe(self) -> str:
        """Where the jobs run, for the progress line."""
        if self._client is None:
            return f"{self.workers} local process{'es' if self.workers != 1 else ''}"
        n = len(self._client.scheduler_info().get("workers", {}))
        return f"Dask scheduler {self._client.scheduler.address} ({n} workers)"

    def submit(self, fn, arg):
        if self._client is not None:
            return self._client.submit(fn, arg, pure=False)
        return self._pool.submit(fn, arg)

    def wait_any(self, pending: set) -> tuple[set, set]:
        if self._client is not None:
            from distributed import wait

            done, rest = wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(rest)
        done, rest = wait_local(pending, return_when=FIRST_COMPLETED)
        return set(done), set(rest)
