"""What every exercise check shares: the :class:`Feedback` it returns and the helpers that run a
student's code safely and compare its answer with the reference and with typical mistakes.

A check never raises on a student's mistake: an unfinished skeleton (``raise NotImplementedError``)
answers "not done yet", any other exception answers with its type and message, a wrong shape or
dtype is named, and a wrong value is compared with the answers that typical mistakes give, so that
the message can say what went wrong and where to look.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feedback:
    """The answer of a check: whether the student's code passed, and what to do next.

    Parameters
    ----------
    passed : bool
        True when the student's answer agrees with the reference.
    message : str
        On success a short confirmation with the number that was checked; otherwise what is wrong
        and where to look.
    """

    passed: bool
    message: str

    def __str__(self) -> str:
        return ("\u2714 passed: " if self.passed else "\u2718 ") + self.message

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


class StudentError(Exception):
    """Raised inside a check when the student's code could not produce an answer.

    Parameters
    ----------
    feedback : Feedback
        What the check returns instead of raising (see :func:`checked`).
    """

    def __init__(self, feedback: Feedback):
        super().__init__(feedback.message)
        self.feedback = feedback


def ok(message: str) -> Feedback:
    """A passed check.

    Parameters
    ----------
    message : str
        The confirmation, with the number that was checked.

    Returns
    -------
    Feedback
    """
    log.info("check passed: %s", message)
    return Feedback(True, message)


def wrong(message: str) -> Feedback:
    """A failed check.

    Parameters
    ----------
    message : str
        What is wrong and where to look.

    Returns
    -------
    Feedback
    """
    log.info("check failed: %s", message)
    return Feedback(False, message)


def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run the student's function; turn an unfinished skeleton or an exception into feedback.

    Parameters
    ----------
    fn : callable
        The student's function.
    *args, **kwargs
        Its arguments (small test data).

    Returns
    -------
    Any
        What the function returned.

    Raises
    ------
    StudentError
        Carrying the feedback "not done yet" (``NotImplementedError`` or ``...`` returned) or the
        exception's type and message.
    """
    if not callable(fn):
        raise StudentError(wrong(f"expected a function, got {type(fn).__name__}: pass the function itself, "
                                 "without calling it (no parentheses)"))
    name = getattr(fn, "__name__", "your function")
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        raise StudentError(wrong(f"not done yet: {name} still raises NotImplementedError; "
                                 "write your code where it says YOUR CODE HERE")) from None
    except Exception as err:  # the student's bug, reported rather than raised
        raise StudentError(wrong(f"{name} raised {type(err).__name__}: {err}")) from None
    if out is None or out is Ellipsis:
        raise StudentError(wrong(f"not done yet: {name} returned {out!r}; "
                                 "complete the lines marked YOUR CODE HERE and return the result"))
    return out


def as_array(out: Any, shape: tuple, what: str) -> np.ndarray:
    """The student's answer as a float64 array of the expected shape.

    Parameters
    ----------
    out : array-like or torch.Tensor
        What the student's function returned.
    shape : tuple of int
        The expected shape.
    what : str
        What the array is, for the message (e.g. "the noisy stack").

    Returns
    -------
    numpy.ndarray
        float64, of shape ``shape``.

    Raises
    ------
    StudentError
        If the answer is complex, not numeric or of another shape.
    """
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().cpu().numpy()
    a = np.asarray(out)
    if np.iscomplexobj(a):
        raise StudentError(wrong(f"{what}: complex numbers came back; after an inverse Fourier transform "
                                 "keep the real part (`.real`)"))
    if a.dtype.kind not in "fiub":
        raise StudentError(wrong(f"{what} has dtype {a.dtype}, expected numbers"))
    if a.shape != tuple(shape):
        raise StudentError(wrong(f"{what} has shape {a.shape}, expected {tuple(shape)}: check which axis you "
                                 "reduced over (one value per image means reducing over the pixel axes, "
                                 "axis=(1, 2), or over axis 1 of a 2D array)"))
    if not np.all(np.isfinite(a)):
        raise StudentError(wrong(f"{what} contains nan or inf: look for a division by zero or a log of zero"))
    return a.astype(np.float64)


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-3) -> bool:
    """Whether two arrays agree to a relative error ``rtol`` (in the norm of ``b``).

    Parameters
    ----------
    a, b : numpy.ndarray
        Arrays of the same shape.
    rtol : float
        Tolerated ``|a - b| / |b|``.

    Returns
    -------
    bool
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.linalg.norm(b)), 1e-12)
    return a.shape == b.shape and float(np.linalg.norm(a - b)) <= rtol * scale


def diagnose(answer: np.ndarray, mistakes: dict[str, Any], rtol: float = 1e-3) -> str | None:
    """The message of the first typical mistake whose answer equals the student's.

    Parameters
    ----------
    answer : numpy.ndarray
        The student's answer.
    mistakes : dict
        ``{message: what that mistake returns}``, most specific first.
    rtol : float
        Relative tolerance of the comparison.

    Returns
    -------
    str or None
        The matching message, or None when no listed mistake explains the answer.
    """
    for message, value in mistakes.items():
        if close(answer, value, rtol):
            return message
    return None


def per_image(out: Any, n: int, what: str, one_number: str) -> np.ndarray:
    """The student's per-image answer, one value for each of ``n`` images, as :func:`as_array` gives it.

    Parameters
    ----------
    out : array-like
        What the student's function returned.
    n : int
        Number of images.
    what : str
        What the values are, for the message (e.g. "the PSNR").
    one_number : str
        The message when the student returned a single number for the whole stack.

    Returns
    -------
    numpy.ndarray
        float64, shape (n,).

    Raises
    ------
    StudentError
        With ``one_number`` for a scalar, or as :func:`as_array` raises.
    """
    if np.ndim(out) == 0:
        raise StudentError(wrong(one_number))
    return as_array(out, (n,), what)


def rule_out(answer: np.ndarray, mistakes: dict[str, Any], rtol: float = 1e-3) -> None:
    """Stop the check with the message of the first typical mistake that explains the answer.

    Parameters
    ----------
    answer, mistakes, rtol
        As in :func:`diagnose`.

    Raises
    ------
    StudentError
        With :func:`diagnose`'s message, when a listed mistake gives the student's answer.
    """
    mistake = diagnose(answer, mistakes, rtol)
    if mistake:
        raise StudentError(wrong(mistake))


def exercises(namespace: dict[str, Any], *names: str) -> dict[str, tuple[Callable, Callable]]:
    """A chapter's ``EXERCISES``: ``{name: (check_<name>, solution_<name>)}``, in the order given.

    Parameters
    ----------
    namespace : dict
        The chapter module's ``globals()``.
    *names : str
        The exercises' names.

    Returns
    -------
    dict
    """
    return {n: (namespace[f"check_{n}"], namespace[f"solution_{n}"]) for n in names}


def checked(check: Callable[..., Feedback]) -> Callable[..., Feedback]:
    """Decorator: a check that returns the feedback of a :class:`StudentError` instead of raising it.

    Parameters
    ----------
    check : callable
        A check function returning :class:`Feedback`.

    Returns
    -------
    callable
        The same check, with the same name and docstring.
    """
    import functools

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> Feedback:
        try:
            return check(*args, **kwargs)
        except StudentError as err:
            return err.feedback

    return run


def toy_stack(n: int = 16, size: int = 32, seed: int = 0, n_views: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Small clean "particles" for the checks: an elongated Gaussian blob per view, each image with
    its own contrast and a non-zero background level.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Box size in pixels.
    seed : int
        Seed of the contrasts and background levels.
    n_views : int
        Number of distinct views (blob orientations); image ``i`` shows view ``i % n_views``.

    Returns
    -------
    images : numpy.ndarray
        float32, shape (n, size, size).
    labels : numpy.ndarray
        int64, shape (n,), the view of each image.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size // 2
    labels = np.arange(n) % n_views
    out = np.empty((n, size, size), np.float32)
    for i, v in enumerate(labels):
        t = np.pi * v / n_views
        u, w = xx * np.cos(t) + yy * np.sin(t), -xx * np.sin(t) + yy * np.cos(t)
        blob = np.exp(-(u / (0.22 * size)) ** 2 - (w / (0.09 * size)) ** 2)
        blob += 0.6 * np.exp(-((u - 0.12 * size) ** 2 + (w + 0.08 * size) ** 2) / (0.06 * size) ** 2)
        out[i] = rng.uniform(0.5, 2.0) * blob + rng.uniform(-0.5, 0.5)
    return out, labels
