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


def _stage_with(tmp_path, files: dict[str, bytes]):
    calls = []

    def build(folder):
        calls.append(1)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)

    return (lambda: cached_dir("samples", "k", build, home=tmp_path)), calls


def _forget_checks():
    from synthrl import cache

    cache._checked.clear()  # as a new process would: nothing checked yet


def test_done_record_lists_each_file_with_its_size_and_digest(tmp_path):
    import hashlib
    import json

    get, _ = _stage_with(tmp_path, {"samples.jsonl": b'{"a": 1}\n', "sub/weights.bin": b"\x00" * 10})
    folder = get()
    record = json.loads((folder / "DONE").read_text())
    assert record["files"] == {
        "samples.jsonl": {"size": 9, "digest": "sha256:" + hashlib.sha256(b'{"a": 1}\n').hexdigest()},
        "sub/weights.bin": {"size": 10, "digest": "sha256:" + hashlib.sha256(b"\x00" * 10).hexdigest()}}


@pytest.mark.parametrize("damage, said", [
    (lambda f: (f / "samples.jsonl").write_bytes(b"".join(f.joinpath("samples.jsonl").read_bytes().splitlines(True)[:100])),
     "where"),  # a JSONL cut to 100 of its 320 lines
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:5000]),
     "where"),  # truncated weights
    (lambda f: (f / "model.safetensors").write_bytes(bytes(4096) + (f / "model.safetensors").read_bytes()[4096:]),
     "contents changed"),  # weights zeroed in place, same size
    (lambda f: (f / "metrics.json").unlink(), "missing"),
    (lambda f: (f / "DONE").write_text("{not json"), "not a readable record"),
])
def test_a_damaged_stage_is_named_and_rebuilt_never_used(tmp_path, caplog, damage, said):
    import os

    lines = b"".join(b'{"uid": "%d", "correct": true}\n' % i for i in range(320))
    get, calls = _stage_with(tmp_path, {"samples.jsonl": lines, "model.safetensors": os.urandom(20_000),
                                        "metrics.json": b'{"test_error": 0.5}'})
    folder = get()
    damage(folder)
    _forget_checks()
    with caplog.at_level("WARNING", logger="synthrl.cache"):
        again = get()
    assert len(calls) == 2  # rebuilt, not used
    assert "samples/k is damaged" in caplog.text and said in caplog.text
    assert (again / "samples.jsonl").read_bytes() == lines and (again / "metrics.json").exists()
    assert is_cached("samples", "k", home=tmp_path)


def test_a_change_is_seen_within_one_process_too(tmp_path):
    get, calls = _stage_with(tmp_path, {"out.txt": b"right"})
    folder = get()
    get()
    assert len(calls) == 1  # checked once, then trusted while its files stand as they were
    (folder / "out.txt").write_bytes(b"wrong, and longer")
    assert (get() / "out.txt").read_bytes() == b"right" and len(calls) == 2


def test_large_files_are_digested_from_sampled_blocks(tmp_path, monkeypatch):
    from synthrl import cache

    monkeypatch.setattr(cache, "FULL_DIGEST_BYTES", 1000)
    monkeypatch.setattr(cache, "BLOCK_BYTES", 100)
    monkeypatch.setattr(cache, "SAMPLED_BLOCKS", 8)
    path = tmp_path / "w.bin"
    path.write_bytes(bytes(range(256)) * 40)
    before = cache.file_digest(path)
    assert before.startswith("sampled-sha256:")
    path.write_bytes(bytes(100) + (bytes(range(256)) * 40)[100:])  # the first block zeroed: read, so seen
    assert cache.file_digest(path) != before


def test_an_entry_from_before_the_record_is_recorded_and_said(tmp_path, caplog):
    import json

    folder = tmp_path / "pi_sft" / "old"
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"weights")
    (folder / "DONE").write_text("")  # as the cache wrote it before it listed files
    with caplog.at_level("WARNING", logger="synthrl.cache"):
        assert cached_dir("pi_sft", "old", lambda f: pytest.fail("rebuilt"), home=tmp_path) == folder
    assert "recording them now, unchecked" in caplog.text
    assert set(json.loads((folder / "DONE").read_text())["files"]) == {"w.bin"}


def test_stale_temporary_folders_of_dead_processes_are_removed(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stage = tmp_path / "samples"
    stale, live = stage / f"k.tmp-{dead.stdout.strip()}", stage / f"other.tmp-{os.getppid()}"
    for d in (stale, live):
        d.mkdir(parents=True)
        (d / "half.jsonl").write_text("{")
    cached_dir("samples", "k", lambda f: (f / "ok").write_text("1"), home=tmp_path)
    assert not stale.exists() and live.exists()  # a running process's folder is left alone


_KILLED_BUILDER = """
import sys, time
from pathlib import Path
from synthrl.cache import cached_dir

def build(folder):
    (folder / "samples.jsonl").write_text("{}\\n" * 10)
    Path(sys.argv[2]).write_text("started")
    time.sleep(600)  # killed here, mid-stage

cached_dir("samples", "shared", build, home=Path(sys.argv[1]))
"""


def test_a_process_killed_mid_stage_leaves_nothing_the_next_one_uses(tmp_path):
    """One process is killed (SIGKILL) while it builds a stage and holds its lock; another, waiting on the
    same key, then builds it whole: the killed one's half-written folder is neither used nor left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    started = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen([sys.executable, "-c", _KILLED_BUILDER, str(tmp_path), str(started)], env=env)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert time.monotonic() < deadline and first.poll() is None, "the first builder never started"
        time.sleep(0.05)
    second = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from synthrl.cache import cached_dir; "
        "print(cached_dir('samples', 'shared', lambda f: (f / 'samples.jsonl').write_text('whole\\n'), "
        "home=Path(sys.argv[1])))"), str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert second.poll() is None  # waiting for the first's lock
    first.send_signal(signal.SIGKILL)
    first.wait()
    out, _ = second.communicate(timeout=120)
    folder = tmp_path / "samples" / "shared"
    assert second.returncode == 0 and out.strip() == str(folder)
    assert (folder / "samples.jsonl").read_text() == "whole\n"
    assert not list((tmp_path / "samples").glob("*.tmp-*"))
