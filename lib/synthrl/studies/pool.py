"""Independent cells of a study in worker processes: spawned, one thread each (fork after torch has
started its threads can hang), results in the order they finish, a progress bar over cells."""
from __future__ import annotations

import os
from collections.abc import Callable


def _init_worker(threads: int) -> None:
    import torch

    from synthrl import quiet_libraries

    torch.set_num_threads(threads)
    quiet_libraries()


def map_cells(fn: Callable[..., list[dict]], jobs: list[tuple], workers: int, desc: str,
              progress: bool = False) -> list[dict]:
    """The rows of fn(*job) for every job, run in `workers` processes (1: in this process)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    rows: list[dict] = []
    if workers == 1:
        for job in jobs:
            rows += fn(*job)
            bar.update()
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            for future in as_completed([pool.submit(fn, *job) for job in jobs]):
                rows += future.result()
                bar.update()
    bar.close()
    return rows
