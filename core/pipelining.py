"""Overlapping decode, compute and encode on a few threads.

PyAV and OpenCV release the GIL in their heavy parts, so decoding the next frames and encoding
the previous ones while the engine works on the current one uses the machine's cores without
holding more than a bounded queue of frames in memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import cv2

logger = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()
_opencv_lock = threading.Lock()
_opencv_users = 0
_opencv_threads = 0


@contextlib.contextmanager
def opencv_threads_for_a_job() -> Iterator[None]:
    """OpenCV without its own worker threads while a job runs, on machines of two cores or fewer.

    There decode, matte, compose and encode each keep a core busy; OpenCV splitting every small
    call over the same cores on top of that only adds hand-offs (about 10 % more CPU per 720p
    frame). With more cores OpenCV keeps its own threads: on a 16-core GPU machine the compose
    stage (a blend over the whole 1080p frame) took 15-17 ms a frame on one thread, more than the
    MatAnyone step with CUDA graphs, and it became the job's slowest stage (bench/RESULTS.md).
    The setting is process-wide, so it is counted: the last job to finish restores it.
    """
    global _opencv_users, _opencv_threads
    if usable_cores() > 2:
        yield
        return
    with _opencv_lock:
        if _opencv_users == 0:
            _opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_users += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users -= 1
            if _opencv_users == 0:
                cv2.setNumThreads(_opencv_threads)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def encoder_threads() -> int:
    """Threads for an x264 encoder inside a job: 1 on a machine of two cores or fewer, else 0 (auto).

    On two cores decode, matte, compose and encode already keep both busy, and x264's own slice
    threads only add hand-offs and split each frame: the same 720p job ran at 42 fps against 40
    with the automatic count (``bench.speed``, pan clip, runs interleaved; 40 against 37.6 on the
    still clip). One x264 thread encodes 720p veryfast at about 70 fps, above what the rest of a job
    reaches on such a machine. With more cores x264 picks its own count, as usual.
    """
    return 1 if usable_cores() <= 2 else 0


class Prefetcher(Iterator[T]):
    """Runs ``source`` on a thread, ``depth`` items ahead. Errors surface on the consumer side;
    ``close`` stops the thread early (cancel, or an error downstream)."""

    def __init__(self, source: Iterator[T], depth: int, name: str = "prefetch") -> None:
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self.busy_s = 0.0  # time spent producing items
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    item = next(self._source)
                except StopIteration:
                    break
                self.busy_s += time.perf_counter() - started
                self._put(item)
            self._put(_DONE)
        except BaseException as exc:  # hand the error to the consumer
            self._put(exc)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __next__(self) -> T:
        item = self._queue.get()
        if item is _DONE:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        close = getattr(self._source, "close", None)
        if close is not None and not self._thread.is_alive():
            close()


class Worker:
    """Runs ``fn(*args)`` for each submitted item on one thread, in order, ``depth`` items queued.
    The first error is raised on the next ``submit`` or on ``finish``."""

    def __init__(self, fn: Callable[..., None], depth: int, name: str = "worker") -> None:
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            args = self._queue.get()
            if args is _DONE:
                return
            if self._error is not None:
                continue  # drain after a failure
            started = time.perf_counter()
            try:
                self._fn(*args)
            except BaseException as exc:
                self._error = exc
            self.busy_s += time.perf_counter() - started

    def submit(self, *args: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(args)

    def abort(self) -> None:
        """Stop without doing the queued work (after an error or a cancel elsewhere)."""
        self._error = self._error or RuntimeError("aborted")
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_DONE)
        self._thread.join()

    def finish(self) -> None:
        """Wait for every queued item; raise the first error."""
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


class Background:
    """``fn(*args)`` on a thread of its own, started at once: start-up work that need not hold up
    the rest (the matter's look at the clip runs while the clicks are segmented).

    ``wait`` returns when it is done and raises what it raised; ``join`` only waits (for clean-up
    when another error is already on its way)."""

    def __init__(self, fn: Callable[..., None], *args: Any, name: str = "background") -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., None], args: tuple) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # handed to whoever waits
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
