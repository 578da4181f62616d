import pytest

from synthrl.cache import cache_key, cached_dir, is_cached
from synthrl.presets import get_preset


def test_key_is_stable_and_sensitive():
    a = cache_key("stage", get_preset("smoke"), 3)
    assert a == cache_key("stage", get_preset("smoke"), 3)
    assert a != cache_key("stage", get_preset("smoke", seed=1), 3)


def test_built_once_then_reused(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "out.txt").write_text("x")

    first = cached_dir("stage", "k", build, home=tmp_path)
    second = cached_dir("stage", "k", build, home=tmp_path)
    assert first == second and len(calls) == 1 and (first / "out.txt").read_text() == "x"


def test_interrupted_build_leaves_nothing_and_reruns(tmp_path):
    def crash(folder):
        (folder / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_dir("stage", "k", crash, home=tmp_path)
    assert not is_cached("stage", "k", home=tmp_path)
    assert not list((tmp_path / "stage").iterdir())  # no half-written folder left
    folder = cached_dir("stage", "k", lambda f: (f / "ok.txt").write_text("done"), home=tmp_path)
    assert (folder / "ok.txt").exists() and not (folder / "half.txt").exists()


def test_keys_do_not_depend_on_where_the_run_folder_lives(tmp_path):
    from synthrl.cache import checkpoint_id

    a = cached_dir("pi_sft", "abc", lambda f: None, home=tmp_path / "one")
    b = cached_dir("pi_sft", "abc", lambda f: None, home=tmp_path / "two")
    assert checkpoint_id(a) == checkpoint_id(b) == "pi_sft/abc"
    assert checkpoint_id("deepseek-ai/deepseek-math-7b-base") == "deepseek-ai/deepseek-math-7b-base"


def _slow_build_in_a_worker(home: str, log: str) -> str:
    import os
    import time
    from pathlib import Path

    def build(folder):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.5)  # long enough for the other worker to ask for the same key meanwhile
        (folder / "out.txt").write_text(str(os.getpid()))

    return str(cached_dir("stage", "shared", build, home=Path(home)))


def test_two_processes_building_one_key_build_it_once(tmp_path):
    """Two worker processes ask for the same key at once: one builds, the other waits for the lock
    and reads the finished folder (no rename over a folder another process is reading)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    log = tmp_path / "builds.log"
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_slow_build_in_a_worker, str(tmp_path), str(log)) for _ in range(2)]
        folders = {f.result() for f in futures}
    assert len(folders) == 1 and len(log.read_text().split()) == 1
    folder = next(iter(folders))
    assert is_cached("stage", "shared", home=tmp_path) and (tmp_path / "stage" / "shared" / "out.txt").exists()
    assert folder.endswith("shared") and not list((tmp_path / "stage").glob("shared.tmp-*"))
