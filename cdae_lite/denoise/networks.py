"""The networks' architectures (torch modules) and their configs: the paper's convolutional autoencoder,
DnCNN, Noise2Void's U-Net, the general denoiser's U-Net and the adversarial autoencoder of clustering.

These act on *normalised* images; :mod:`cdae_lite.denoise.models` wraps them so that they work in the
units of their input, chains them into cascades and builds them by name. Tensors are
``(n, 1, size, size)`` float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a faster mask on the CPU.

    Each element is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, as in
    ``nn.Dropout``; on the CPU the mask is drawn as ``rand >= p`` (uniform numbers are filled about
    three times faster than ``bernoulli_``, which made dropout a fifth of the CPU time of training the
    paper's autoencoder). Elsewhere (CUDA's fused kernel) it is ``nn.Dropout`` itself. In evaluation
    mode, or with ``p = 0``, it returns its input.

    Parameters
    ----------
    p : float
        Probability of zeroing an element (0 <= p < 1).
    inplace : bool
        As ``nn.Dropout``'s (unused on the CPU path).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


@dataclass(frozen=True)
class AEConfig:
    """Architecture of one autoencoder block (section 3.5 and Figure 2 of the paper).

    The text gives: an encoder of 3 modules, each 2 convolutions and 1 pooling; a decoder of 3
    transposed convolutions and 1 convolution that combines 32 channels into one output; dropout 0.5
    in the encoder and the decoder. Figure 2's kernel sizes are not in the text; our choices are
    3x3 kernels, 32 channels, ReLU, 2x2 max pooling, transposed convolutions 3x3 with stride 2, one
    dropout layer at the end of the encoder and one after the last transposed convolution.

    ``output_dropout=False`` (beyond the paper) removes the dropout right before the output
    convolution. There, dropout acts as a ridge penalty on the one-channel output: trained under it,
    the network learns to shrink its output's contrast (a gain well below 1) while keeping its
    structure. The paper's text puts dropout "in the encoder and decoder" without saying where; the
    default keeps our reading of it.

    Attributes
    ----------
    channels : int
        Channels of every convolution (the paper's 32).
    dropout : float
        Dropout probability (0 <= dropout < 1; the paper's 0.5).
    kernel : int
        Odd kernel size of the convolutions, in pixels.
    output_dropout : bool
        Keep the dropout before the output convolution.

    Raises
    ------
    ValueError
        If ``channels < 1``, ``dropout`` is outside [0, 1) or ``kernel`` is even.
    """

    channels: int = 32
    dropout: float = 0.5
    kernel: int = 3
    output_dropout: bool = True

    def __post_init__(self):
        if self.channels < 1 or not 0 <= self.dropout < 1 or self.kernel % 2 == 0:
            raise ValueError("channels >= 1, 0 <= dropout < 1 and an odd kernel are required")


class ConvAutoencoder(nn.Module):
    """The paper's convolutional autoencoder (one CDAE block), acting on normalised images.

    Input and output: ``(n, 1, size, size)`` float32 with ``size`` a multiple of 8 (three 2x poolings).

    Parameters
    ----------
    config : AEConfig
        Channels, dropout, kernel size.
    """

    def __init__(self, config: AEConfig = AEConfig()):
        super().__init__()
        c, k = config.channels, config.kernel
        p = k // 2
        enc, cin = [], 1
        for _ in range(3):
            enc += [nn.Conv2d(cin, c, k, padding=p), nn.ReLU(inplace=True),
                    nn.Conv2d(c, c, k, padding=p), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = c
        self.encoder = nn.Sequential(*enc, Dropout(config.dropout))
        dec = []
        for _ in range(3):
            dec += [nn.ConvTranspose2d(c, c, k, stride=2, padding=p, output_padding=1), nn.ReLU(inplace=True)]
        last = Dropout(config.dropout) if config.output_dropout else nn.Identity()  # same layer indices
        self.decoder = nn.Sequential(*dec, last, nn.Conv2d(c, 1, k, padding=p))
        self.config = config

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent features of normalised images.

        Parameters
        ----------
        x : torch.Tensor
            float32 (n, 1, size, size), normalised.

        Returns
        -------
        torch.Tensor
            float32 (n, channels, size / 8, size / 8).
        """
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 8)
        return self.decoder(self.encoder(x))


@dataclass(frozen=True)
class DnCNNConfig:
    """DnCNN (Zhang et al. 2017): ``depth`` 3x3 convolutions of ``channels`` channels with batch
    normalisation, predicting the noise (residual learning).

    Attributes
    ----------
    depth : int
        Convolutions (the published network's 17).
    channels : int
        Channels of the hidden convolutions (the published network's 64).
    """

    depth: int = 17
    channels: int = 64


class DnCNN(nn.Module):
    """Residual denoiser: ``output = input - network(input)``; works at any image size.

    Parameters
    ----------
    config : DnCNNConfig
        Depth and width.
    """

    def __init__(self, config: DnCNNConfig = DnCNNConfig()):
        super().__init__()
        c = config.channels
        layers = [nn.Conv2d(1, c, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(c, 1, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.body(x)


@dataclass(frozen=True)
class Noise2VoidConfig:
    """Noise2Void's network: a small U-Net (two poolings, skip connections), as in Noise2Noise-style denoisers.

    Attributes
    ----------
    channels : int
        Channels at full resolution (twice as many at the lower levels).
    """

    channels: int = 32


class Noise2VoidUNet(nn.Module):
    """Noise2Void's two-level U-Net, trained blind-spot (:func:`~cdae_lite.denoise.train.blind_spot`).

    Input and output: ``(n, 1, size, size)`` float32 with ``size`` a multiple of 4.

    Parameters
    ----------
    config : Noise2VoidConfig
        Its width.
    """

    def __init__(self, config: Noise2VoidConfig = Noise2VoidConfig()):
        super().__init__()
        c = config.channels

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                                 nn.Conv2d(o, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))

        self.e1, self.e2, self.mid = block(1, c), block(c, 2 * c), block(2 * c, 2 * c)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2)
        self.d2 = block(4 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.d1 = block(2 * c, c)
        self.out = nn.Conv2d(c, 1, 1)
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 4)
        a = self.e1(x)
        b = self.e2(self.pool(a))
        m = self.mid(self.pool(b))
        d2 = self.d2(torch.cat([self.up2(m), b], 1))
        d1 = self.d1(torch.cat([self.up1(d2), a], 1))
        return self.out(d1)


def _check_size(x: torch.Tensor, multiple: int) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected a tensor (n, 1, size, size), got {tuple(x.shape)}")
    if x.shape[-1] % multiple or x.shape[-2] % multiple:
        raise ValueError(f"image size {tuple(x.shape[-2:])} must be a multiple of {multiple} for this "
                         f"network: pad or crop the images (cdae_lite.denoise pads automatically)")


class AdversarialAutoencoder(nn.Module):
    """A convolutional autoencoder with a small latent vector shaped by a discriminator (Makhzani et al.).

    Encoder: the paper's three convolution modules, then a linear map to ``latent`` numbers.
    Decoder: a linear map back, then the paper's transposed convolutions. Discriminator: a small MLP
    telling latent codes from samples of a standard normal distribution; training the encoder to fool
    it makes the codes follow that prior. Works on normalised images of a fixed ``size``.

    Parameters
    ----------
    size : int
        Image size in pixels (a multiple of 8).
    latent : int
        Length of the latent code.
    channels : int
        Channels of the convolutions.

    Raises
    ------
    ValueError
        If ``size`` is not a multiple of 8.
    """

    def __init__(self, size: int, latent: int = 8, channels: int = 32):
        super().__init__()
        if size % 8:
            raise ValueError("size must be a multiple of 8")
        ae = ConvAutoencoder(AEConfig(channels=channels, dropout=0.0))
        self.size, self.latent, self.channels = size, latent, channels
        flat = channels * (size // 8) ** 2
        self.enc = nn.Sequential(*list(ae.encoder)[:-1], nn.Flatten(), nn.Linear(flat, latent))
        self.dec_in = nn.Linear(latent, flat)
        self.dec = nn.Sequential(*list(ae.decoder)[:-2], ae.decoder[-1])
        self.disc = nn.Sequential(nn.Linear(latent, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64),
                                  nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes of normalised images (n, 1, size, size) float32; float32 (n, latent)."""
        return self.enc(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (n, 1, size, size) float32 from latent codes (n, latent), in normalised units."""
        h = self.dec_in(z).view(-1, self.channels, self.size // 8, self.size // 8)
        return self.dec(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


@dataclass(frozen=True)
class GeneralUNetConfig:
    """The general denoiser's U-Net: widths of its levels (the last is the bottleneck).

    Attributes
    ----------
    channels : tuple of int
        Channels at 1/2, 1/4, 1/8 of the image size and in the bottleneck.

    Raises
    ------
    ValueError
        Unless ``channels`` lists 4 positive widths.
    """

    channels: tuple = (32, 64, 128, 128)

    def __post_init__(self):
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError("channels must list 4 positive widths (three levels and the bottleneck)")


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv2d(o, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))


class GeneralUNet(nn.Module):
    """The general denoiser's U-Net (beyond the paper).

    unshuffle 2 -> [c0] -> pool -> [c1] -> pool -> [c2] -> [c3] -> up -> [c1] -> up -> [c0] -> shuffle 2.
    Input and output: ``(n, 1, size, size)`` float32 with ``size`` a multiple of 8.

    Parameters
    ----------
    config : GeneralUNetConfig
        The widths of its levels.
    """

    def __init__(self, config: GeneralUNetConfig = GeneralUNetConfig()):
        super().__init__()
        c0, c1, c2, c3 = (int(c) for c in config.channels)
        self.e0, self.e1, self.e2 = _block(4, c0), _block(c0, c1), _block(c1, c2)
        self.mid = _block(c2, c3)
        self.up1 = nn.ConvTranspose2d(c3, c1, 2, stride=2)
        self.d1 = _block(c1 + c1, c1)
        self.up0 = nn.ConvTranspose2d(c1, c0, 2, stride=2)
        self.d0 = _block(c0 + c0, c0)
        self.out = nn.Conv2d(c0, 4, 1)
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"expected (n, 1, size, size) with size a multiple of 8, got {tuple(x.shape)}")
        a = self.e0(F.pixel_unshuffle(x, 2))
        b = self.e1(F.max_pool2d(a, 2))
        m = self.mid(self.e2(F.max_pool2d(b, 2)))
        b = self.d1(torch.cat([self.up1(m), b], 1))
        a = self.d0(torch.cat([self.up0(b), a], 1))
        return F.pixel_shuffle(self.out(a), 2)
