"""Task worlds: `arith` (ours, the CPU stand-in for GSM8K), `stargraph` (Bachmann & Nagarajan)
and loaders for real data (`hub`)."""
from synthrl.tasks.arith import ArithConfig, ArithWorld
from synthrl.tasks.base import STEP_LABELS, Problem, Task, split_lines
from synthrl.tasks.stargraph import StarGraphConfig, StarGraphTask

__all__ = ["ArithConfig", "ArithWorld", "Problem", "Task", "STEP_LABELS", "split_lines",
           "StarGraphConfig", "StarGraphTask"]
