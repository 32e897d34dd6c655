"""Running past one process with PyTorch's own runtime: ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc-per-node N $(which cdae-lite) denoise big.mrcs -o out.mrcs`` starts N copies of the
command with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. The
helpers here read that environment, join the default process group (gloo on CPUs, NCCL on GPUs),
split a stack into contiguous shares, and let the ranks agree on success, so that one rank's bad
input stops all of them with one message. Launched without torchrun, everything runs in one process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world size)`` from torchrun's environment.

    Returns
    -------
    tuple of int
        ``RANK`` and ``WORLD_SIZE`` as set by torchrun; ``(0, 1)`` when not launched by torchrun.
    """
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def launched() -> bool:
    """Whether this process was started by torchrun with more than one rank.

    Returns
    -------
    bool
        ``True`` when ``WORLD_SIZE`` is above 1.
    """
    return world()[1] > 1


def is_main() -> bool:
    """Whether this is the rank that prints summaries and messages.

    Returns
    -------
    bool
        ``True`` on rank 0, or in the only process.
    """
    return world()[0] == 0


def data_parallel() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised default process group.

    Returns
    -------
    tuple of int
        From ``torch.distributed`` when a default process group is initialised; ``(0, 1)`` when there
        is none.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(device: str | torch.device | None) -> str | torch.device | None:
    """This rank's GPU when CUDA is asked for or available.

    Parameters
    ----------
    device : str, torch.device or None
        The device the user asked for (``None``: the default).

    Returns
    -------
    str, torch.device or None
        ``"cuda:LOCAL_RANK"`` under torchrun with more than one rank when ``device`` is ``"cuda"``, or
        ``None`` on a machine with CUDA; else ``device`` unchanged.
    """
    if not launched():
        return device
    wants_cuda = (device is None and torch.cuda.is_available()) or str(device) == "cuda"
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if wants_cuda else device


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join the default process group for the ``with`` block, if launched by torchrun and not yet joined.

    Parameters
    ----------
    device : torch.device or str
        The device this rank computes on: NCCL for a GPU, gloo for a CPU.

    Yields
    ------
    None
        The group is left (destroyed) when the block ends, if this call joined it.
    """
    if not launched() or dist.is_initialized():
        yield
        return
    dist.init_process_group("nccl" if torch.device(device).type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def share(n: int, rank: int, size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``n`` items among ``size`` ranks.

    Shares differ by at most one item, earlier ranks take the extra ones, and a rank beyond the
    items gets an empty share.

    Parameters
    ----------
    n : int
        Number of items (images).
    rank : int
        This rank, ``0 <= rank < size``.
    size : int
        Number of ranks, at least 1.

    Returns
    -------
    tuple of int
        ``(start, stop)``: the rank takes items ``start`` to ``stop - 1`` (none when equal).

    Examples
    --------
    >>> [share(10, r, 4) for r in range(4)]
    [(0, 3), (3, 6), (6, 8), (8, 10)]
    >>> share(1, 1, 2)
    (1, 1)
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def broadcast(obj, src: int = 0):
    """``obj`` of rank ``src`` on every rank (a collective: every rank calls it).

    Parameters
    ----------
    obj : object
        Any picklable object; only rank ``src``'s is used.
    src : int, optional
        The rank that sends.

    Returns
    -------
    object
        Rank ``src``'s ``obj``, on every rank.
    """
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def first_error(error: BaseException | None) -> tuple[int, str] | None:
    """Every rank says whether it failed; the lowest failing rank and its message.

    Every rank must call it at the same point (it is a collective), failed or not.

    Parameters
    ----------
    error : BaseException or None
        This rank's error, ``None`` when it succeeded.

    Returns
    -------
    tuple of (int, str) or None
        ``(rank, message)`` of the lowest failing rank, or ``None`` when every rank succeeded.
    """
    messages = [None] * dist.get_world_size()
    dist.all_gather_object(messages, None if error is None else str(error))
    return next(((r, m) for r, m in enumerate(messages) if m is not None), None)


def _reduced(values, op) -> list[float]:
    """``values`` combined over the ranks of the initialised group by ``op`` (unchanged without one)."""
    if data_parallel()[1] == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    dist.all_reduce(t, op=op)
    return t.tolist()


def summed(*values: float) -> list[float]:
    """Each value summed over the ranks of the initialised group.

    Parameters
    ----------
    *values : float
        This rank's values.

    Returns
    -------
    list of float
        The sums over the ranks, in order (the values themselves in one process).
    """
    return _reduced(values, dist.ReduceOp.SUM)


def from_rank0(value: float) -> float:
    """Rank 0's ``value`` on every rank.

    Parameters
    ----------
    value : float
        This rank's value; only rank 0's is used.

    Returns
    -------
    float
        Rank 0's value (``value`` itself in one process).
    """
    if data_parallel()[1] == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t[0])


def reduce_stats(stats: list[float], count: int) -> tuple[list[float], int]:
    """Combine running pixel statistics and a count over all ranks.

    Parameters
    ----------
    stats : list of float
        This rank's ``[min, max, sum, sum of squares]`` of its pixels.
    count : int
        Number of pixels they were taken over.

    Returns
    -------
    tuple of (list of float, int)
        ``[min, max, sum, sum of squares]`` over all ranks, and the total count.
    """
    lo, neg_hi = _reduced([stats[0], -stats[1]], dist.ReduceOp.MIN)
    total, squares, n = summed(stats[2], stats[3], count)
    return [lo, -neg_hi, total, squares], int(n)


def _stop(failed: tuple[int, str], own: BaseException | None):
    if own is not None:
        raise own  # the failing rank keeps its error's type (and so its exit status)
    raise ValueError(f"rank {failed[0]} failed: {failed[1]}; nothing was written")


def write_in_shares(open_writer, fill, n: int) -> None:
    """Write one output file from every rank: each fills its contiguous share, rank 0 publishes it.

    The ranks agree after opening and after writing: if any rank failed, rank 0 removes the
    temporary file and every rank raises (the failing rank its own error, the others one naming it),
    so nothing is published and the message is the failing rank's.

    Parameters
    ----------
    open_writer : callable
        ``open_writer(shared)``: with ``shared=None`` (rank 0) a new
        :class:`~cdae_lite.io.mrc.StackWriter` that owns a temporary file; with the path of that
        file (the other ranks) a writer into it.
    fill : callable
        ``fill(writer, start, stop)`` writes items ``start`` to ``stop - 1``.
    n : int
        Number of items.
    """
    rank, size = world()
    lo, hi = share(n, rank, size)
    writer, error = None, None
    try:
        if rank == 0:
            writer = open_writer(None).__enter__()
    except Exception as exc:  # noqa: BLE001 (every rank must reach the agreement below)
        error = exc
    failed = first_error(error)
    if failed:
        _stop(failed, error)
    tmp = broadcast(writer.temporary if rank == 0 else None)
    try:
        if rank != 0:
            writer = open_writer(tmp).__enter__()
        fill(writer, lo, hi)
    except Exception as exc:  # noqa: BLE001
        error = exc
    failed = first_error(error)
    stats = reduce_stats(*(writer.stats if writer is not None else ([float("inf"), float("-inf"), 0.0, 0.0], 0)))
    if rank != 0 and writer is not None:
        writer.__exit__(None, None, None)  # closes this rank's handle; never publishes
    dist.barrier()  # every share is on disk before rank 0 publishes
    if rank == 0:
        try:
            if failed is None:
                writer.set_stats(*stats)
                writer.__exit__(None, None, None)
            else:
                writer.__exit__(RuntimeError, None, None)  # removes the temporary file
        except Exception as exc:  # noqa: BLE001 (e.g. the output appeared meanwhile)
            error = exc
    failed = failed or first_error(error if rank == 0 else None)
    if failed:
        _stop(failed, error)
