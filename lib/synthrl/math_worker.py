"""MATH answers compared by math-verify with a time limit on every thread: in this thread where it is its
process's main thread, else in a worker process that math-verify runs in.

math-verify limits its parsing and comparing by SIGALRM, which only a process's main thread may set;
on any other thread (a JupyterLab widget's callback, a sampler's thread) it would run unbounded, and
some answers ("9^{9^{9^{9}}}") take minutes. So those checks go, as JSON lines over a pipe, to one
long-lived child process (`python -m synthrl.math_worker`), where they run on its main thread with
math-verify's own limits; the parent waits at most `WAIT_FACTOR` times the limit, and kills and
restarts the child when it overruns. A plain process through `subprocess`, not `multiprocessing`:
it starts from daemon processes and Ray workers too. Only strings cross the pipe.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import select
import subprocess
import sys
import threading

from synthrl.verify import normalize_latex

START_TIMEOUT_S = 120  # our choice: importing sympy and math-verify takes seconds on a loaded machine
WAIT_FACTOR = 3  # two parses and one comparison, each under the limit
_lock = threading.Lock()
_child: subprocess.Popen | None = None


# Off the main thread math-verify warns on every call that it runs without its time limit; it never runs
# there (`math_equivalent` sends those checks to the worker process)
logging.getLogger("math_verify.utils").setLevel(logging.ERROR)


@functools.lru_cache(maxsize=4096)  # a reference is parsed once per problem, not once per sample (~10 ms)
def _math_verify_parse(answer: str, timeout_s: float) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    try:
        return tuple(parse("\\boxed{" + answer + "}", extraction_config=[LatexExtractionConfig()],
                           parsing_timeout=timeout_s))
    except Exception:  # noqa: BLE001 - any failure to parse is "cannot parse": the fallback decides
        return ()


def _parsed(found: tuple) -> bool:
    # math-verify answers [value, raw string] when it parses, and [raw string] alone when it cannot
    return any(not isinstance(x, str) for x in found)


def equivalent_here(reference: str, answer: str, timeout_s: float) -> bool:
    """`answers.math_equivalent` in this thread, which must be its process's main thread (math-verify's
    limits are SIGALRMs); the worker process runs this."""
    if normalize_latex(answer) == normalize_latex(reference):
        return True
    gold, pred = _math_verify_parse(reference, timeout_s), _math_verify_parse(answer, timeout_s)
    if not (_parsed(gold) and _parsed(pred)):
        return False  # the strings decided, above
    from math_verify import verify

    try:
        return bool(verify(list(gold), list(pred), timeout_seconds=timeout_s))
    except Exception:  # noqa: BLE001 - a comparison that fails is no match
        return False


def _start() -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen([sys.executable, "-m", "synthrl.math_worker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1)
    if _read_line(child, START_TIMEOUT_S) != "ready":
        _stop(child)
        raise RuntimeError(f"the MATH checking worker did not start within {START_TIMEOUT_S} s")
    return child


def _read_line(child: subprocess.Popen, timeout_s: float) -> str | None:
    ready, _, _ = select.select([child.stdout], [], [], timeout_s)
    return child.stdout.readline().strip() if ready else None


def _stop(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()


def equivalent_in_worker(reference: str, answer: str, timeout_s: float) -> bool:
    """`equivalent_here` in the worker process; False when it overruns its limit (the worker
    is then killed, and the next call starts a fresh one)."""
    global _child
    with _lock:  # one check at a time on the one pipe
        if _child is None or _child.poll() is not None:
            _child = _start()
        try:
            _child.stdin.write(json.dumps({"reference": reference, "answer": answer, "timeout_s": timeout_s}) + "\n")
            _child.stdin.flush()
            line = _read_line(_child, WAIT_FACTOR * timeout_s + 1)
        except (BrokenPipeError, OSError):
            line = None
        if not line:  # overran its limit, or died: an answer that cannot be checked in time is no match
            _stop(_child)
            _child = None
            return False
        return bool(json.loads(line)["equal"])


def serve() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        equal = equivalent_here(request["reference"], request["answer"], request["timeout_s"])
        print(json.dumps({"equal": equal}), flush=True)


if __name__ == "__main__":
    serve()
