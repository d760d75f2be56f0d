"""Running independent simulations on every core, in order, with progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


def map_tasks(
    work: Callable[[Task], Result],
    tasks: Sequence[Task],
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunksize: int = 1,
) -> list[Result]:
    """``[work(t) for t in tasks]``, over ``jobs`` processes (default: one per core).

    ``work`` must be a module-level function (the pool spawns fresh interpreters, safe
    under pytest and threads). One job runs in this process.
    """
    workers = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    results: list[Result] = []
    if workers == 1:
        for task in tasks:
            results.append(work(task))
            if progress:
                progress(len(results), len(tasks))
        return results
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for result in pool.map(work, tasks, chunksize=chunksize):
            results.append(result)
            if progress:
                progress(len(results), len(tasks))
    return results
