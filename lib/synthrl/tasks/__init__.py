"""Task worlds: `arith` (ours, the CPU stand-in for GSM8K) and loaders for real data."""
from synthrl.tasks.arith import ArithConfig, ArithWorld
from synthrl.tasks.base import STEP_LABELS, Problem, Task, split_lines

__all__ = ["ArithConfig", "ArithWorld", "Problem", "Task", "STEP_LABELS", "split_lines"]
