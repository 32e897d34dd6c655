"""Fill-in exercises for the book's chapters, with checks that answer specifically.

Each chapter has a module (:mod:`~cdae_lite.exercises.ch1` ... :mod:`~cdae_lite.exercises.ch7`) in which
every exercise ``<name>`` has

- ``check_<name>(student_function)``: runs the student's function on small data (milliseconds on a
  CPU) and returns a :class:`~cdae_lite.exercises.feedback.Feedback`: ``passed`` and a ``message``
  that, on a typical mistake, says what is wrong and where to look, and on success confirms with
  the number it checked;
- ``solution_<name>``: the reference solution, which passes its own check.

A teacher can reuse both::

    from cdae_lite.exercises import ch2
    ch2.check_psnr(my_psnr)          # -> Feedback(passed=..., message=...)
    ch2.check_psnr(ch2.solution_psnr)

``EXERCISES`` lists every exercise as ``{chapter: {name: (check, solution)}}``.
"""

from __future__ import annotations

from cdae_lite.exercises import ch1, ch2, ch3, ch4, ch5, ch6, ch7
from cdae_lite.exercises.feedback import Feedback

#: Every exercise of the book: ``{"ch1": {name: (check, solution)}, ...}``.
EXERCISES = {f"ch{i}": m.EXERCISES for i, m in enumerate((ch1, ch2, ch3, ch4, ch5, ch6, ch7), start=1)}

__all__ = ["EXERCISES", "Feedback", "ch1", "ch2", "ch3", "ch4", "ch5", "ch6", "ch7"]
