"""Work on stacks larger than memory: denoise and cluster them block by block.

Memory use is bounded by the block (and the model), not by the stack: the input is opened
memory-mapped to check its header, then read block by block with plain file reads
(:func:`cdae_lite.io.read_block`), so that the stack's pages are never counted in the process's
resident memory.

- :func:`denoise_file` writes the output block by block (:class:`cdae_lite.io.StackWriter`) into a
  file that appears under its final name only when every image has been written. A failure on image
  90,000 of 100,000 (a NaN pixel, a full disk, Ctrl-C) leaves no output file behind and the input
  untouched.
- :func:`cluster_file` fits an incremental PCA block by block, keeps only the principal-component
  scores (n x 10 floats: 40 MB for a million images), clusters them with k-means and accumulates the
  class averages in a last pass.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from .config import progress_enabled
from .equalize import equalize_hist
from .inference import predict
from .io import StackWriter, open_stack, read_block
from .preprocess import resample_images


@dataclass
class StreamReport:
    """What :func:`denoise_file` did."""

    n_images: int
    image_size: int
    seconds: float
    images_per_s: float
    peak_rss_mb: float
    output: str

    def summary(self) -> str:
        return (f"denoised {self.n_images} images of {self.image_size} px in {self.seconds:.1f} s "
                f"({self.images_per_s:.0f} images/s, peak memory {self.peak_rss_mb:.0f} MB) -> {self.output}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


@contextmanager
def plain_stack(path: str | os.PathLike) -> Iterator[Path]:
    """The stack at ``path`` as a file that can be read block by block: itself, or for a ``.gz``
    file a decompressed copy in a temporary folder (deleted afterwards). ``.bz2`` is refused."""
    path = Path(path)
    if path.suffix == ".bz2" and path.exists():
        raise ValueError(f"{path}: decompress bzip2 files first (bunzip2)")
    if path.suffix != ".gz" or not path.exists():
        yield path
        return
    import tempfile

    from .maps import gunzip_to

    with tempfile.TemporaryDirectory() as tmp:
        yield gunzip_to(path, Path(tmp) / path.stem)


@contextmanager
def opened_stack(path: str | os.PathLike, allow_volume: bool = False) -> Iterator[tuple[Path, object, np.ndarray]]:
    """``(readable path, mrc, data)`` of a checked stack (:func:`plain_stack`, then
    :func:`cdae_lite.io.open_stack`), closed at the end of the ``with`` block."""
    with plain_stack(path) as plain:
        mrc, data = open_stack(plain, allow_volume=allow_volume)
        try:
            yield plain, mrc, data
        finally:
            mrc.close()


def iter_blocks(path: Path, mrc, data: np.ndarray, block_size: int, start: int = 0,
                stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(first index, images)`` for consecutive blocks of a stack opened by
    :func:`cdae_lite.io.open_stack`; each block float32 ``(<= block_size, size, size)``.

    Raises ``ValueError`` naming the first image that holds NaN or infinite pixels.
    """
    stop = data.shape[0] if stop is None else min(stop, data.shape[0])
    for i in range(start, stop, block_size):
        block = read_block(path, mrc, data, i, min(i + block_size, stop))
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{path}: image {i + int(np.flatnonzero(bad)[0])} holds NaN "
                             "or infinite pixels; nothing was written")
        yield i, block


def denoise_file(model: nn.Module, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 batch_size: int = 256, device=None, equalize: bool = False, overwrite: bool = False,
                 resample: int | None = None, as_stack: bool = False) -> StreamReport:
    """Denoise every image of an MRC stack into a new MRC stack, in bounded memory.

    Parameters
    ----------
    model : a cdae-lite denoiser (works in the units of its input, any size padded to a multiple of 8).
    input_path : ``.mrcs``/``.mrc`` stack (MRC modes 0, 1, 2, 6, 12); never modified.
    output_path : new file; must differ from the input; refused if it exists unless ``overwrite``.
    batch_size : images per batch (memory ~ batch_size x size^2 x 4 bytes x a few).
    equalize : histogram-equalise each output image (values in [0, 1]).
    resample : Fourier-resample images to this box size before denoising (the output has that size
        and a pixel size scaled accordingly); default: keep the size.
    as_stack : read a file flagged as a cubic 3D map as a stack anyway.

    Raises
    ------
    FileNotFoundError, ValueError, FileExistsError, PermissionError
        Unreadable input, NaN/Inf pixels (reported with the image index), output = input, existing
        output, unwritable directory. Nothing is written in any of these cases.
    """
    from tqdm.auto import tqdm

    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and output_path.resolve() == input_path.resolve():
        raise ValueError(f"the output {output_path} is the input file: choose another output name")
    t0 = time.perf_counter()
    with opened_stack(input_path, as_stack) as (plain, mrc, data):
        n, size = data.shape[0], data.shape[-1]
        px = float(mrc.voxel_size.x) or None
        out_size = resample or size
        if resample:
            from .inference import SIZE_MULTIPLE

            if resample < SIZE_MULTIPLE:
                raise ValueError(f"--resample must be at least {SIZE_MULTIPLE} pixels")
            px = px * size / resample if px else None
        with StackWriter(output_path, n, out_size, px, overwrite=overwrite, protect=(input_path,)) as w:
            bar = tqdm(total=n, desc="denoising", unit="img", disable=not progress_enabled(), file=sys.stderr)
            try:
                for start, block in iter_blocks(plain, mrc, data, batch_size):
                    if resample:
                        block = resample_images(block, resample)
                    out = predict(model, block, batch_size=batch_size, device=device, check=False)
                    if equalize:
                        out = equalize_hist(out)
                    w.write(start, out)
                    bar.update(len(block))
            finally:
                bar.close()  # ends the bar's line, so that an error message starts a line of its own
    dt = time.perf_counter() - t0
    return StreamReport(n_images=n, image_size=out_size, seconds=dt, images_per_s=n / max(dt, 1e-9),
                        peak_rss_mb=peak_rss_mb(), output=str(output_path))


#: Ward clustering holds an n x n distance matrix: refused above this many images (8 bytes x n^2 / 2 = 3.6 GB).
MAX_HIERARCHICAL_IMAGES = 30000


@dataclass
class ClusterReport:
    """What :func:`cluster_file` did: labels ``(n,)`` int64 in 0..k-1, scores ``(n, n_components)``
    float32, class averages of the input images ``(k, size, size)`` float32."""

    n_images: int
    k: int
    labels: np.ndarray
    scores: np.ndarray
    averages: np.ndarray
    pixel_size_A: float | None
    seconds: float
    peak_rss_mb: float

    @property
    def sizes(self) -> list[int]:
        return np.bincount(self.labels, minlength=self.k).tolist()

    def summary(self) -> str:
        return (f"clustered {self.n_images} images into {self.k} classes of sizes {self.sizes} in "
                f"{self.seconds:.1f} s ({self.n_images / max(self.seconds, 1e-9):.0f} images/s, "
                f"peak memory {self.peak_rss_mb:.0f} MB)")


def cluster_file(input_path: str | os.PathLike, k: int, n_components: int = 10, method: str = "kmeans",
                 model: nn.Module | None = None, block_size: int | None = None, fit_images: int = 50000,
                 seed: int = 0, device=None, as_stack: bool = False) -> ClusterReport:
    """Cluster the images of an MRC stack into ``k`` classes, in bounded memory.

    Three passes over the file, each reading one block at a time:

    1. fit an incremental PCA (:class:`sklearn.decomposition.IncrementalPCA`) on the normalised images
       (each to zero mean, unit std) of up to ``fit_images`` images, taken as whole blocks spread
       evenly over the stack (stacks are often ordered by micrograph);
    2. project every image on the ``n_components`` components (the only per-image data kept:
       ``n x n_components`` float32);
    3. cluster the scores (k-means with 10 restarts, or Ward when ``method="hierarchical"``) and sum
       the *input* images of each class into its class average.

    With ``model``, passes 1 and 2 work on the denoised images (each image is denoised once in
    pass 2, and once more if it belongs to a fitting block); the averages are always of the input.

    Parameters
    ----------
    input_path : ``.mrcs``/``.mrc`` stack (or ``.gz``), float or integer modes; never modified.
    k : number of classes, 1 <= k <= number of images.
    n_components : principal components (clipped to the number of images and pixels).
    method : ``"kmeans"`` or ``"hierarchical"`` (Ward; refused above
        :data:`MAX_HIERARCHICAL_IMAGES` images, whose distance matrix would not fit in memory).
    block_size : images read (and denoised) at a time; default: 2048, fewer for images over 128 px
        (a block holds at most 2^25 pixels, 128 MB as float32).
    fit_images : images the PCA is fitted on (all of them in a smaller stack).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`cdae_lite.io.open_stack`; NaN/Inf pixels (with the image index); a bad ``k``.
    """
    from sklearn.decomposition import IncrementalPCA
    from tqdm.auto import tqdm

    from .cluster import check_k, flatten, hierarchical, kmeans

    if method not in ("kmeans", "hierarchical"):
        raise ValueError(f"method must be 'kmeans' or 'hierarchical', got {method!r}")
    t0 = time.perf_counter()
    with opened_stack(input_path, as_stack) as (plain, mrc, data):
        n, size = data.shape[0], data.shape[-1]
        check_k(n, k)
        if method == "hierarchical" and n > MAX_HIERARCHICAL_IMAGES:
            raise ValueError(f"hierarchical (Ward) clustering of {n} images would hold a {n} x {n} distance "
                             f"matrix ({4e-9 * n * n:.0f} GB); use k-means (--method kmeans) above "
                             f"{MAX_HIERARCHICAL_IMAGES} images")
        px = float(mrc.voxel_size.x) or None
        nc = int(min(n_components, n, size * size))
        block_size = block_size or max(nc, min(2048, 2**25 // (size * size)))

        def features(block):
            if model is not None:
                block = predict(model, block, device=device, check=False)
            return flatten(block)

        n_blocks = -(-n // block_size)
        fit_blocks = np.unique(np.linspace(0, n_blocks - 1, max(1, min(n_blocks, fit_images // block_size)))
                               .round().astype(int))
        fit_n = sum(min(block_size, n - b * block_size) for b in fit_blocks)
        bar = tqdm(total=fit_n + 2 * n, desc="clustering", unit="img", disable=not progress_enabled(),
                   file=sys.stderr)
        try:
            scores = np.zeros((n, nc), np.float32)
            labels = np.zeros(n, np.int64)  # one image: one class, nothing to fit
            if n > 1:
                ipca, pending = IncrementalPCA(n_components=nc), []
                for b in fit_blocks:  # pass 1: fit, in chunks of at least nc images (IncrementalPCA needs them)
                    for _, block in iter_blocks(plain, mrc, data, block_size, b * block_size, (b + 1) * block_size):
                        pending.append(features(block))
                        bar.update(len(block))
                    if sum(len(p) for p in pending) >= max(nc, 2):
                        ipca.partial_fit(np.concatenate(pending))
                        pending = []
                if pending and (not hasattr(ipca, "components_") or sum(len(p) for p in pending) >= nc):
                    ipca.partial_fit(np.concatenate(pending))
                for start, block in iter_blocks(plain, mrc, data, block_size):  # pass 2: project
                    scores[start:start + len(block)] = ipca.transform(features(block))
                    bar.update(len(block))
                labels = kmeans(scores, k, seed) if method == "kmeans" else hierarchical(scores, k)
            sums, counts = np.zeros((k, size, size)), np.bincount(labels, minlength=k)
            for start, block in iter_blocks(plain, mrc, data, block_size):  # pass 3: class averages
                lab = labels[start:start + len(block)]
                for c in np.unique(lab):
                    sums[c] += block[lab == c].sum(axis=0, dtype=np.float64)
                bar.update(len(block))
        finally:
            bar.close()
    averages = (sums / np.maximum(counts, 1)[:, None, None]).astype(np.float32)
    dt = time.perf_counter() - t0
    return ClusterReport(n_images=n, k=k, labels=labels, scores=scores, averages=averages, pixel_size_A=px,
                         seconds=dt, peak_rss_mb=peak_rss_mb())
