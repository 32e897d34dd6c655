"""The paper's ways of noising the training images, as batch sources for the general denoiser's ablation.

The recipe trains on clean targets with fresh noise in every batch
(:class:`~cdae_lite.denoise.synthetic.FreshNoise`). The ablation (:mod:`cdae_lite.paper.general_ablation`)
undoes one choice at a time; these two sources undo the noise's: :class:`FixedNoise` (one noise
realisation per image, drawn once: the paper's pre-training) and :class:`NoisyTargets` (the clean image
plus independent noise as the target: the paper's ladder of noisy targets). Pass one to
:func:`~cdae_lite.denoise.synthetic.fit_fresh_noise` as its ``source``.
"""

from __future__ import annotations

import numpy as np
import torch

from cdae_lite.denoise.synthetic import FreshNoise, FreshNoiseConfig, add_fresh_noise, random_flips


def noisy_target(clean: torch.Tensor, snr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A noisy training target instead of the clean image.

    Parameters
    ----------
    clean : torch.Tensor
        float32 ``(n, s, s)``.
    snr : torch.Tensor
        ``(n,)``, each target's SNR (variance definition).
    gen : torch.Generator
        Draws the noise.

    Returns
    -------
    torch.Tensor
        float32 ``(n, s, s)``: ``clean`` plus independent white Gaussian noise at ``snr``.
    """
    sigma = torch.sqrt(clean.flatten(1).var(1) / snr)
    return clean + torch.randn(clean.shape, generator=gen) * sigma[:, None, None]


class FixedNoise(FreshNoise):
    """One noise realisation per image, drawn once before training (the paper's way); no flips.

    Parameters
    ----------
    clean : numpy.ndarray
        float32 ``(n, size, size)``, the clean training images.
    config : FreshNoiseConfig
        Its SNRs and coloured share draw the one realisation.
    """

    def __init__(self, clean: np.ndarray, config: FreshNoiseConfig = FreshNoiseConfig()):
        super().__init__(clean, config)
        c = config
        self.fixed = add_fresh_noise(self.clean, c.snr_min, c.snr_max, c.coloured_fraction, self.gen,
                                     c.high_snr_fraction, c.high_snr_max)[0]

    def corrupt(self, idx: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The images' one noisy realisation, and the clean images.

        As :meth:`~cdae_lite.denoise.synthetic.FreshNoise.corrupt`.
        """
        return self.fixed[idx], clean


class NoisyTargets(FreshNoise):
    """Fresh noise in every batch, but a noisy target: the clean image plus independent white noise at
    ``factor`` times the input's SNR (the paper's first rung: 4).

    Parameters
    ----------
    clean : numpy.ndarray
        float32 ``(n, size, size)``.
    config : FreshNoiseConfig
    factor : float
        The target's SNR over the input's (positive).
    """

    def __init__(self, clean: np.ndarray, config: FreshNoiseConfig = FreshNoiseConfig(), factor: float = 4.0):
        if factor <= 0:
            raise ValueError("the noisy target's SNR factor must be positive")
        super().__init__(clean, config)
        self.factor = factor

    def corrupt(self, idx: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Noisy inputs and noisy targets (as :meth:`~cdae_lite.denoise.synthetic.FreshNoise.corrupt`)."""
        c = self.config
        y = random_flips(clean, self.gen) if c.flips else clean
        xn, snr = add_fresh_noise(y, c.snr_min, c.snr_max, c.coloured_fraction, self.gen, c.high_snr_fraction,
                                  c.high_snr_max)
        return xn, noisy_target(y, snr * self.factor, self.gen)
