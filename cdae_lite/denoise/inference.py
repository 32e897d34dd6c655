"""Apply a trained denoiser to a stack, in batches, on CPU or GPU."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cdae_lite.images import check_images, needs_inversion
from cdae_lite.runtime import get_device

#: Image sizes must be multiples of this for every network in cdae_lite (three 2x poolings).
SIZE_MULTIPLE = 8


def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad images on the bottom and right to multiples of ``multiple`` pixels (reflect; replicate when too small).

    Parameters
    ----------
    x : torch.Tensor (n, 1, h, w)
        The images.
    multiple : int
        The multiple, pixels.

    Returns
    -------
    padded : torch.Tensor (n, 1, h + ph, w + pw)
        The padded images, same dtype and device.
    pad : tuple of int
        ``(ph, pw)``, the rows and columns added (crop them off the output with ``[..., :h, :w]``).
    """
    ph, pw = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(x.shape[-2:]) > max(ph, pw) else "replicate")
    return x, (ph, pw)


class Negated(nn.Module):
    """``-model(-x)``: a denoiser trained on bright particles applied to dark ones (negate the images,
    denoise, negate back), usable wherever a model is (:func:`predict`, clustering, refinement).

    Parameters
    ----------
    model : torch.nn.Module
        A denoiser mapping (n, 1, h, w) to (n, 1, h, w), kept as ``self.inner``.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``-inner(-x)``.

        Parameters
        ----------
        x : torch.Tensor (n, 1, h, w)
            The images, in the input's units.

        Returns
        -------
        torch.Tensor (n, 1, h, w)
            The denoised images, in the same units and polarity as ``x``.
        """
        return -self.inner(-x)


class Symmetrized(nn.Module):
    """The mean of ``model`` over the symmetries of the square: each image is flipped and, when square,
    transposed (8 transforms; 4 flips for non-square images), denoised, transformed back, and the
    outputs averaged. A denoiser trained with random flips and rotations treats each transform as a
    new input, so its errors partly average out; the price is ``transforms`` times the inference time.

    Parameters
    ----------
    model : torch.nn.Module
        A denoiser mapping (n, 1, h, w) to (n, 1, h, w), kept as ``self.inner``.
    transforms : int
        8 (flips and transposes), 4 (flips only) or 2 (identity and transpose).

    Raises
    ------
    ValueError
        ``transforms`` other than 2, 4 or 8.
    """

    def __init__(self, model: nn.Module, transforms: int = 8):
        super().__init__()
        if transforms not in (2, 4, 8):
            raise ValueError(f"transforms must be 2, 4 or 8, got {transforms}")
        self.inner, self.transforms = model, transforms

    def _ops(self, square: bool) -> list[tuple[tuple[int, ...], bool]]:
        """(dims to flip, transpose) pairs; their own inverses when undone in reverse order."""
        flips = [(), (-1,), (-2,), (-2, -1)]
        if self.transforms == 2:
            return [((), False), ((), True)] if square else [((), False)]
        ops = [(f, False) for f in flips]
        return ops + [(f, True) for f in flips] if self.transforms == 8 and square else ops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of the model's outputs over the transforms, each transformed back.

        Parameters
        ----------
        x : torch.Tensor (n, 1, h, w)
            The images.

        Returns
        -------
        torch.Tensor (n, 1, h, w)
            The averaged output.
        """
        ops = self._ops(x.shape[-1] == x.shape[-2])
        out = torch.zeros_like(x)
        for dims, transpose in ops:
            y = x.transpose(-2, -1) if transpose else x
            y = self.inner(y.flip(dims) if dims else y)
            y = y.flip(dims) if dims else y
            out = out + (y.transpose(-2, -1) if transpose else y)
        return out / len(ops)


def for_polarity(model: nn.Module, images, invert: bool | None = None) -> tuple[nn.Module, str]:
    """``model`` as it should meet ``images``: wrapped in :class:`Negated` when the particles are dark.

    Parameters
    ----------
    model : torch.nn.Module
        A denoiser trained on bright particles (every shipped model is).
    images : array (n, size, size)
        Centred particles, or a sample of them.
    invert : bool, optional
        Force (True) or forbid (False) the negation; None detects the polarity
        (:func:`~cdae_lite.images.needs_inversion`), as ``cdae-lite denoise`` does.

    Returns
    -------
    model : torch.nn.Module
        ``model`` itself, or ``Negated(model)`` when the particles are dark (or ``invert`` is True).
    polarity : str
        ``"dark"`` or ``"bright"``, as detected.
    """
    flip, polarity = needs_inversion(images, invert)
    return (Negated(model) if flip else model), polarity


@torch.no_grad()
def predict(model: nn.Module, images, batch_size: int = 256, device: str | torch.device | None = None,
            amp: bool | None = None, check: bool = True) -> np.ndarray:
    """Denoise a stack with ``model`` (in eval mode, so dropout is off).

    Parameters
    ----------
    model : torch.nn.Module
        Maps (n, 1, s, s) to (n, 1, s, s) in the units of its input; left in its training mode after.
    images : array (n, size, size)
        Any size; padded (reflect) to a multiple of 8 pixels and cropped back.
    batch_size : int
        Images per forward pass.
    device : str or torch.device, optional
        Where to run (default: CUDA if available, else CPU); the model is moved there.
    amp : bool, optional
        bfloat16 autocast (default: on for CUDA).
    check : bool
        Validate the images (:func:`~cdae_lite.images.check_images`); False: take them as float32 as they are.

    Returns
    -------
    ndarray (n, size, size) float32
        The denoised images.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses (with ``check``).
    """
    x = check_images(images) if check else np.asarray(images, np.float32)
    dev = get_device(device)
    amp = (dev.type == "cuda") if amp is None else amp
    was_training = model.training
    model.eval()
    model.to(dev, memory_format=torch.channels_last)
    out = np.empty_like(x)
    try:
        for i in range(0, x.shape[0], batch_size):
            # a copy of the batch: the input may be a read-only memory map
            xb = torch.from_numpy(np.array(x[i:i + batch_size], dtype=np.float32))[:, None].to(dev)
            xb, (ph, pw) = pad_to_multiple(xb)
            xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                yb = model(xb)
            yb = yb[..., : yb.shape[-2] - ph, : yb.shape[-1] - pw]
            out[i:i + batch_size] = yb[:, 0].float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def block_outputs(cascade: nn.Module, images, device: str | torch.device | None = None,
                  batch_size: int = 256) -> list[np.ndarray]:
    """The output of every block of a cascade (a model with ``.blocks``), each as :func:`predict` gives it.

    Parameters
    ----------
    cascade : torch.nn.Module
        A model with a ``blocks`` sequence (e.g. :class:`~cdae_lite.denoise.models.Cascade`).
    images : array (n, size, size)
        The noisy images.
    device : str or torch.device, optional
        Where to run (default: CUDA if available, else CPU).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    list of ndarray (n, size, size) float32
        One output per block, in order; the last equals ``predict(cascade, images)``.
    """
    outs, cur = [], images
    for block in cascade.blocks:
        cur = predict(block, cur, batch_size=batch_size, device=device)
        outs.append(cur)
    return outs
