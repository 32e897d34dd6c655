"""Denoising stacks larger than memory, block by block.

:func:`denoise_file` writes the output block by block (:class:`cdae_lite.io.mrc.StackWriter`) into a
file that appears under its final name only when every image has been written. A failure on image
90,000 of 100,000 (a NaN pixel, a full disk, Ctrl-C) leaves no output file behind and the input
untouched.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from cdae_lite.denoise.calibrate import apply_scale, stein_scale
from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.stackaware import StackAwareConfig, stack_denoise
from cdae_lite.distributed import is_main, launched, local_device, process_group, world, write_in_shares
from cdae_lite.images import equalize_hist, evenly_spaced, needs_inversion, resample_images
from cdae_lite.io.blocks import iter_blocks, opened_stack
from cdae_lite.io.files import check_name, check_target
from cdae_lite.io.mrc import StackWriter
from cdae_lite.runtime import get_device, peak_rss_mb, progress_enabled

log = logging.getLogger(__name__)


@dataclass
class StreamReport:
    """What :func:`denoise_file` did.

    Attributes
    ----------
    n_images : int
        Images denoised.
    image_size : int
        The output's box size, pixels.
    seconds : float
        Wall-clock time of the run.
    images_per_s : float
        Images denoised per second.
    peak_rss_mb : float
        Peak resident memory of the process, MB.
    output : str
        The output stack's path.
    polarity : str
        ``"bright"`` or ``"dark"``: the particles' polarity, as detected or given.
    inverted : bool
        Whether each image was negated for the model and its output negated back.
    scale : float
        The contrast scale applied to the output (1.0: no calibration).
    """

    n_images: int
    image_size: int
    seconds: float
    images_per_s: float
    peak_rss_mb: float
    output: str
    polarity: str = "bright"
    inverted: bool = False
    scale: float = 1.0

    def summary(self) -> str:
        """One line for the command line: images, size, time, speed, memory, polarity, calibration, output.

        Returns
        -------
        str
            The line, without a newline.
        """
        how = (f"particles {self.polarity}" + (", inverted for the model and back" if self.inverted else "")
               + (f", contrast calibrated x{self.scale:.2f}" if self.scale != 1.0 else ""))
        return (f"denoised {self.n_images} images of {self.image_size} px in {self.seconds:.1f} s "
                f"({self.images_per_s:.0f} images/s, peak memory {self.peak_rss_mb:.0f} MB; {how}) -> {self.output}")


#: Pixels per batch when no batch size is given: 256 images of 64 px, 26 of 400 px (the activations of
#: a batch take a few hundred MB on a CPU whatever the image size).
BATCH_PIXELS = 2**22


def default_batch_size(size: int) -> int:
    """Images per batch for images of ``size`` px: ``BATCH_PIXELS / size^2``, between 1 and 256.

    Parameters
    ----------
    size : int
        The images' box size, pixels.

    Returns
    -------
    int
        Images per batch, 1 to 256.

    Examples
    --------
    >>> default_batch_size(64), default_batch_size(400), default_batch_size(5000)
    (256, 26, 1)
    """
    return int(max(1, min(256, BATCH_PIXELS // (size * size))))


def denoise_file(model: nn.Module, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 batch_size: int | None = None, device=None, equalize: bool = False, overwrite: bool = False,
                 resample: int | None = None, as_stack: bool = False, invert: bool | None = None,
                 calibrate: bool = False, sigma: float | None = None, sample_size: int = 256,
                 stack_aware: StackAwareConfig | None = None, ctfs=None) -> StreamReport:
    """Denoise every image of an MRC stack into a new MRC stack, in bounded memory.

    Parameters
    ----------
    model : torch.nn.Module
        A cdae-lite denoiser (works in the units of its input, any size padded to a multiple of 8).
    input_path : str or PathLike
        ``.mrcs``/``.mrc`` stack (MRC modes 0, 1, 2, 6, 12); never modified.
    output_path : str or PathLike
        New file; must differ from the input; refused if it exists unless ``overwrite``.
    batch_size : int, optional
        Images per batch (memory ~ batch_size x size^2 x 4 bytes x the network's width); default
        :func:`default_batch_size`, which keeps memory flat whatever the image size.
    device : str or torch.device, optional
        Where the model runs (default: :func:`~cdae_lite.runtime.get_device`; under torchrun, each rank's GPU).
    equalize : bool
        Histogram-equalise each output image (values in [0, 1]).
    overwrite : bool
        Replace an existing output.
    as_stack : bool
        Read a file flagged as a cubic 3D map as a stack anyway.
    resample : int, optional
        Fourier-resample images to this box size, pixels, before denoising (the output has that size
        and a pixel size scaled accordingly); default: keep the size.
    invert : bool, optional
        Whether particles are dark on a bright background, so that each image is negated for the model
        (trained on bright particles) and its output negated back: the output keeps the input's
        polarity. Default: detected (:func:`~cdae_lite.images.particle_polarity`).
    calibrate : bool
        Rescale the output's contrast by the label-free Stein estimate (:mod:`cdae_lite.denoise.calibrate`).
    sigma : float, optional
        The noise standard deviation for the calibration, input units (default: estimated per image).
    sample_size : int
        Images, spread over the stack, that the polarity and the calibration are measured on.
    stack_aware : StackAwareConfig, optional
        Denoise each image with its aligned look-alikes from the stack
        (:func:`~cdae_lite.denoise.stackaware.stack_denoise`); the whole stack is then read into
        memory (about 3 x its size).
    ctfs : array (n, s, s), optional
        With a CTF-aware ``stack_aware``: each image's CTF at the output size (``fftshift`` layout;
        :func:`~cdae_lite.denoise.relion.group_ctfs` makes them from a STAR file).

    Returns
    -------
    StreamReport
        Images, size, time, memory, output path, polarity, and the contrast scale applied.

    Raises
    ------
    FileNotFoundError, ValueError, FileExistsError, PermissionError
        Unreadable input, NaN/Inf pixels (reported with the image index), output = input, existing
        output, unwritable directory, a bad device, ``calibrate`` with ``stack_aware``, the stack-aware
        mode under torchrun. Nothing is written in any of these cases.

    Notes
    -----
    Launched by ``torchrun`` with N processes (:mod:`cdae_lite.distributed`), each rank denoises a
    contiguous share of the stack into the one output file and rank 0 publishes it; the output equals
    the single-process one. Without torchrun it runs in this process.
    """
    check_name(output_path)  # before Path() drops a trailing "/"
    check_target(output_path, overwrite, protect=(input_path,))  # before any work (stack-aware takes minutes)
    input_path, output_path = Path(input_path), Path(output_path)
    device = get_device(local_device(device))  # a bad device name fails here, before any work
    if calibrate and stack_aware is not None:
        raise ValueError("contrast calibration applies to single-image denoising, not to the stack-aware mode")
    if stack_aware is not None and launched():
        raise ValueError("the stack-aware mode runs in one process: launch it without torchrun")
    with process_group(device):
        return _denoise_file(model, input_path, output_path, batch_size, device, equalize, overwrite, resample,
                             as_stack, invert, calibrate, sigma, sample_size, stack_aware, ctfs)


def _denoise_file(model, input_path: Path, output_path: Path, batch_size, device, equalize, overwrite, resample,
                  as_stack, invert, calibrate, sigma, sample_size, stack_aware, ctfs) -> StreamReport:
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    with opened_stack(input_path, as_stack) as (plain, mrc, data):
        n, size = data.shape[0], data.shape[-1]
        px = float(mrc.voxel_size.x) or None
        out_size = resample or size
        if batch_size is None:
            batch_size = default_batch_size(max(size, out_size))
        elif batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if resample is not None:
            from cdae_lite.denoise.inference import SIZE_MULTIPLE

            if resample < SIZE_MULTIPLE:
                raise ValueError(f"--resample must be at least {SIZE_MULTIPLE} pixels")
            px = px * size / resample if px else None
        sample = np.asarray(data[evenly_spaced(n, sample_size)], dtype=np.float32)
        if resample:
            sample = resample_images(sample, resample)
        invert, polarity = needs_inversion(sample, invert)
        sign = -1.0 if invert else 1.0
        log.debug("denoising %d images of %d px%s in batches of %d; particles look %s%s", n, size,
                  f" resampled to {resample} px" if resample else "", batch_size, polarity,
                  " (negated for the denoiser and back)" if invert else "")

        def run(x):
            return sign * predict(model, sign * x, batch_size=batch_size, device=device, check=False)

        scale = stein_scale(run, sample, sigma)["scale"] if calibrate else 1.0
        if calibrate:
            log.debug("contrast calibration on %d sample images: scale %.4g", len(sample), scale)
        done = None
        if stack_aware is not None:  # every image needs the whole stack: denoise it all first, write after
            whole = np.asarray(data[:], dtype=np.float32)
            whole = resample_images(whole, resample) if resample else whole
            done = sign * stack_denoise(model, sign * whole, stack_aware, device=device, batch_size=batch_size, ctfs=ctfs)
            del whole

        def fill(w, lo, hi):
            bar = tqdm(total=hi - lo, desc="denoising" + (f" (rank 0 of {world()[1]})" if launched() else ""),
                       unit="img", disable=not (progress_enabled() and is_main()), file=sys.stderr)
            try:
                for start, block in iter_blocks(plain, mrc, data, batch_size, lo, hi):
                    if done is not None:  # already denoised (and resampled) with the whole stack
                        out = done[start:start + len(block)]
                    else:
                        block = resample_images(block, resample) if resample else block
                        out = run(block)
                    if calibrate:
                        out = apply_scale(out, block, scale)
                    if equalize:
                        out = equalize_hist(out)
                    w.write(start, out)
                    bar.update(len(block))
            finally:
                bar.close()  # ends the bar's line, so that an error message starts a line of its own

        def writer(shared=None):
            return StackWriter(output_path, n, out_size, px, overwrite=overwrite, protect=(input_path,), shared=shared)

        if launched():
            write_in_shares(writer, fill, n)
        else:
            with writer() as w:
                fill(w, 0, n)
    dt = time.perf_counter() - t0
    return StreamReport(n_images=n, image_size=out_size, seconds=dt, images_per_s=n / max(dt, 1e-9),
                        peak_rss_mb=peak_rss_mb(), output=str(output_path), polarity=polarity, inverted=invert,
                        scale=scale)
