"""Work that runs apart, on Ray: a study's independent cells (a setting x size x seed chain of cached
stages), and the rollout batches of a credit stage (`CreditConfig.batch_traces`).

- `ray=None`, `workers=1`: every cell in this process, one after another.
- `ray=None`, `workers=n`: a local Ray instance of n CPUs on this machine (measured on 2 cores: two
  one-thread cells at once train 1.42x faster than one two-thread cell).
- `ray="auto"` (a cluster started with `ray start --head`) or a cluster's address: the cells are Ray
  tasks on that cluster. Every node must see the run cache (`SYNTHRL_HOME`) at the same path (a shared
  file system): the cells' stages are cached there, and a finished stage is never run again.

Each cell gets an equal share of the cores (torch threads), and on a GPU machine one GPU, so each
cell's vLLM engine has its GPU to itself. Rows come back in the order cells finish; the studies sort
them. Without Ray installed, cells run in this process.

Rollout batches go to sampler actors: one per GPU where the cluster has GPUs (each holds one engine,
loaded once per checkpoint), else one per CPU. Where Ray is not running, the batches run here, one
after another, with the same seeds, so the Q values do not depend on where they ran.
"""
from __future__ import annotations

import os
from collections.abc import Callable

# The environment a cell reads: the run cache and the data folder, as the caller set them
_ENV = ("SYNTHRL_HOME", "SYNTHRL_DATA")


def _caller_env() -> dict:
    return {k: os.environ[k] for k in _ENV if k in os.environ}


def _enter_worker(env: dict, threads: int) -> None:
    """A Ray worker takes the caller's run cache and data folder, and its share of the cores."""
    import torch

    from synthrl import quiet_libraries

    os.environ.update(env)
    torch.set_num_threads(threads)
    quiet_libraries()


def _run_cell(fn: Callable[..., list[dict]], job: tuple, env: dict, threads: int) -> list[dict]:
    """One cell in a Ray worker."""
    _enter_worker(env, threads)
    return fn(*job)


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _running_ray():
    """The ray module if this process is connected to a Ray instance (a driver that started one, or any Ray
    worker), else None."""
    if not _ray_available():
        return None
    import ray

    return ray if ray.is_initialized() else None


def _connect(ray_address: str | None, workers: int):
    """Ray, connected: to the given cluster, or to a local instance of `workers` CPUs (reused if this
    process has one already)."""
    import ray

    if not ray.is_initialized():
        local = {"num_cpus": workers} if ray_address is None else {}
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 **local)
    return ray


def map_cells(fn: Callable[..., list[dict]], jobs: list[tuple], workers: int, desc: str,
              progress: bool = False, ray: str | None = None,
              done: Callable[[tuple, list[dict]], None] | None = None) -> list[dict]:
    """The rows of fn(*job) for every job: in this process (workers 1, no Ray address, or no Ray
    installed), on a local Ray instance of `workers` CPUs, or on the Ray cluster at `ray`. `done(job,
    rows)` is called in this process as each job finishes (e.g. to write its rows at once)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    rows: list[dict] = []
    if (ray is None and workers == 1) or not _ray_available():
        if ray is not None:
            raise ImportError(f"--ray {ray}: Ray is not installed; pip install -e '.[ray]'")
        for job in jobs:
            got = fn(*job)
            if done is not None:
                done(job, got)
            rows += got
            bar.update()
    else:
        lib = _connect(ray, workers)
        # a local instance runs `workers` cells at once, each on its share of this machine's cores; a
        # cluster one per CPU, single-threaded; where the cluster has GPUs, each cell holds one
        threads = max(1, (os.cpu_count() or 1) // workers) if ray is None else 1
        gpus = 1 if lib.cluster_resources().get("GPU", 0) > 0 else 0
        task = lib.remote(num_cpus=1, num_gpus=gpus)(_run_cell)
        env = _caller_env()
        refs = {task.remote(fn, job, env, threads): job for job in jobs}
        pending = list(refs)
        while pending:
            finished, pending = lib.wait(pending, num_returns=1)
            got = lib.get(finished[0])
            if done is not None:
                done(refs[finished[0]], got)
            rows += got
            bar.update()
    bar.close()
    return rows


def _sampler_actor_class(lib):
    @lib.remote
    class SamplerActor:
        """One sampler (a vLLM engine on a GPU, else transformers) for one checkpoint, kept for every batch
        sent to it."""

        def __init__(self, checkpoint: str, batch_size: int, env: dict, threads: int, model_cfg=None):
            from synthrl.sampling import make_sampler

            _enter_worker(env, threads)
            self.sampler = make_sampler(checkpoint, batch_size=batch_size, model_cfg=model_cfg)

        def estimate(self, task, problems, traces, kwargs):
            from synthrl.credit import estimate_q

            return estimate_q(self.sampler, task, problems, traces, **kwargs)

    return SamplerActor


def rollout_batches(checkpoint: str, batch_size: int, task, batches: list[tuple], kwargs: dict,
                    model_cfg=None) -> list:
    """Monte-Carlo credit (`credit.estimate_q(sampler, task, problems, traces, seed=..., **kwargs)`) for
    each batch (problems, traces, seed), in order: on sampler actors where Ray is running, else here.
    The checkpoint loads as `model_cfg` says (`sampling.make_sampler`)."""
    from synthrl.credit import estimate_q

    lib = _running_ray()
    if lib is None or len(batches) < 2:
        from synthrl.sampling import make_sampler

        sampler = make_sampler(checkpoint, batch_size=batch_size, model_cfg=model_cfg)
        return [estimate_q(sampler, task, problems, traces, seed=seed, **kwargs) for problems, traces, seed in batches]
    resources = lib.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    n_actors = min(len(batches), gpus or max(1, int(resources.get("CPU", 1))))
    actor = _sampler_actor_class(lib).options(num_cpus=1, num_gpus=1 if gpus else 0)
    env = _caller_env()
    actors = [actor.remote(checkpoint, batch_size, env, 1, model_cfg) for _ in range(n_actors)]
    try:
        futures = [actors[i % n_actors].estimate.remote(task, problems, traces, {**kwargs, "seed": seed})
                   for i, (problems, traces, seed) in enumerate(batches)]
        return lib.get(futures)
    finally:
        for a in actors:
            lib.kill(a)
