"""Beyond the paper: an iterative denoise-cluster loop that refines labels against denoised class averages.

Starting from any labels (k-means on principal components, say), each round

1. averages the *raw* images of each class (a class average: noise divided by the class size),
2. denoises the averages with a single-image denoiser (the shipped general model), which removes
   what noise is left and keeps the references from drifting towards noise,
3. gives every image the label of the reference it correlates with best,

and stops when no label changes (or after ``max_iter`` rounds). This is 2D classification without
alignment: RELION's 2D classification does the same with soft assignments, in-plane alignment and a
Fourier-space regularisation of the references where we use a learned denoiser; CL2D splits classes
hierarchically and correlates images with class averages. At SNR 0.05 and below, k-means on
principal components mislabels many images; the loop corrects most of them (chapter 5).

Images are read in blocks, so a stack larger than memory is refined in one pass over the file per
round (:func:`refine_file`); :func:`refine_labels` does the same for a stack held in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch.nn as nn

from cdae_lite.cluster.methods import flatten
from cdae_lite.denoise.inference import predict
from cdae_lite.images import check_images
from cdae_lite.io.blocks import iter_blocks, opened_stack


@dataclass
class Refinement:
    """What the loop did.

    Attributes
    ----------
    labels : ndarray (n,) int64
        The final class of each image.
    references : ndarray (k, s, s) float32
        The (denoised) references of the last round, which gave the final labels.
    averages : ndarray (k, s, s) float32
        The class averages of the raw images under the final labels, in the input's units (an empty
        class's average is zero).
    changed : list of int
        The number of labels changed in each round (the last is 0 when the loop converged).
    mean_correlation : list of float
        The mean correlation of the images with their reference in each round (Pearson, in [-1, 1]).
    """

    labels: np.ndarray
    references: np.ndarray
    averages: np.ndarray | None = None
    changed: list[int] = field(default_factory=list)
    mean_correlation: list[float] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """Whether the last round changed no label."""
        return bool(self.changed) and self.changed[-1] == 0


def _class_sums(blocks, labels: np.ndarray, k: int) -> np.ndarray:
    sums = None
    for start, block in blocks():
        sums = np.zeros((k, *block.shape[1:])) if sums is None else sums
        np.add.at(sums, labels[start:start + len(block)], block.astype(np.float64))
    return sums


def _means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return (sums / np.maximum(counts, 1)[:, None, None]).astype(np.float32)


def _one_round(blocks: Callable[[], Iterator[tuple[int, np.ndarray]]], labels: np.ndarray, k: int,
               model: nn.Module | None, device, sums: np.ndarray | None = None):
    """References from ``sums`` (or from a first pass over the blocks), then one pass: new labels, new sums."""
    if sums is None:
        sums = _class_sums(blocks, labels, k)
    counts = np.bincount(labels, minlength=k)
    refs = _means(sums, counts)
    if model is not None:
        refs = predict(model, refs, device=device)
    rf = flatten(refs)
    new, best_sum, new_sums = labels.copy(), 0.0, np.zeros_like(sums)
    for start, block in blocks():
        corr = flatten(block) @ rf.T / rf.shape[1]
        corr[:, counts == 0] = -np.inf  # an empty class takes no images
        lab = corr.argmax(1)
        new[start:start + len(block)] = lab
        best_sum += float(corr.max(1).sum())
        np.add.at(new_sums, lab, block.astype(np.float64))
    return new, refs, new_sums, best_sum / len(labels)


def _refine(blocks, labels, k: int, model, max_iter: int, device) -> Refinement:
    labels = np.asarray(labels, np.int64).copy()
    out = Refinement(labels=labels, references=np.empty(0, np.float32))
    sums = None
    for _ in range(max_iter):
        new, out.references, sums, corr = _one_round(blocks, out.labels, k, model, device, sums)
        out.changed.append(int((new != out.labels).sum()))
        out.mean_correlation.append(corr)
        out.labels = new
        if out.changed[-1] == 0:
            break
    out.averages = _means(sums, np.bincount(out.labels, minlength=k))
    return out


def refine_labels(images, labels, k: int, model: nn.Module | None = None, max_iter: int = 20, device=None,
                  block_size: int = 2048) -> Refinement:
    """Refine the labels of a stack held in memory against denoised class averages until they stop changing.

    Parameters
    ----------
    images : array (n, s, s)
        The stack, any units (each image is normalised to zero mean, unit std for the correlations).
    labels : array (n,) int
        The starting class of each image, in ``0..k-1`` (e.g. k-means on principal components).
    k : int
        The number of classes.
    model : torch.nn.Module, optional
        Denoises the class averages, (k, 1, s, s) to (k, 1, s, s) (e.g. the shipped general model);
        None: plain averages, which makes the loop k-means on normalised pixels.
    max_iter : int
        At most this many rounds.
    device : str or torch.device, optional
        Where the model runs (default: CUDA if available, else CPU).
    block_size : int
        Images correlated at a time.

    Returns
    -------
    Refinement
        The final labels, references and class averages, and each round's changes and correlation.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, or a number of labels that is not
        the number of images.
    """
    x = check_images(images)
    if len(labels) != len(x):
        raise ValueError(f"{len(labels)} labels for {len(x)} images")

    def blocks():
        return ((i, x[i:i + block_size]) for i in range(0, len(x), block_size))

    return _refine(blocks, labels, k, model, max_iter, device)


def refine_file(path: str | os.PathLike, labels, k: int, model: nn.Module | None = None, max_iter: int = 20,
                device=None, block_size: int = 2048, as_stack: bool = False) -> Refinement:
    """:func:`refine_labels` for a stack in a file, read block by block (one pass over the file per round).

    Parameters
    ----------
    path : str or PathLike
        An MRC stack (``.mrcs``/``.mrc``, or gzipped), (n, s, s).
    labels : array (n,) int
        The starting class of each image, in ``0..k-1``.
    k : int
        The number of classes.
    model : torch.nn.Module, optional
        Denoises the class averages (None: plain averages).
    max_iter : int
        At most this many rounds.
    device : str or torch.device, optional
        Where the model runs (default: CUDA if available, else CPU).
    block_size : int
        Images read and correlated at a time (bounds the memory).
    as_stack : bool
        Read a file flagged as a cubic 3D map as a stack anyway.

    Returns
    -------
    Refinement
        As :func:`refine_labels` gives it.

    Raises
    ------
    ValueError
        A number of labels that is not the number of images in the file, a file that cannot be read as
        a stack, or an image with NaN or infinite pixels.
    FileNotFoundError
        No file at ``path``.
    """
    with opened_stack(path, as_stack) as (plain, mrc, data):
        if len(labels) != data.shape[0]:
            raise ValueError(f"{len(labels)} labels for {data.shape[0]} images in {path}")

        def blocks():
            return iter_blocks(plain, mrc, data, block_size)

        return _refine(blocks, labels, k, model, max_iter, device)
