"""Networks: the paper's convolutional autoencoder, the cascade (CDAE), DnCNN and a small U-Net.

Every denoiser here maps images to images *in the units of its input*: it normalises each image
(subtracts its mean, divides by its standard deviation), runs the network, and undoes the
normalisation. So it accepts any offset and scale of pixel values (``model(a * x + b) == a * model(x)
+ b`` for ``a > 0``), and training targets are expressed in the units of the input (see
:meth:`Normalized.normalized_forward`).

Tensors are ``(n, 1, size, size)`` float32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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

    Input and output: ``(n, 1, size, size)`` with ``size`` a multiple of 8 (three 2x poolings).
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
        """Latent features ``(n, channels, size/8, size/8)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 8)
        return self.decoder(self.encoder(x))


@dataclass(frozen=True)
class DnCNNConfig:
    """DnCNN (Zhang et al. 2017): ``depth`` 3x3 convolutions of ``channels`` channels with batch
    normalisation, predicting the noise (residual learning). The paper's version has depth 17 and 64
    channels; ``quick`` profiles use a smaller one."""

    depth: int = 17
    channels: int = 64


class DnCNN(nn.Module):
    """Residual denoiser: ``output = input - network(input)``; works at any image size."""

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
    """A small U-Net (two poolings, skip connections), as used by Noise2Noise-style denoisers."""

    channels: int = 32


class Noise2VoidUNet(nn.Module):
    """Two-level U-Net; input size a multiple of 4."""

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
        return self.enc(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dec_in(z).view(-1, self.channels, self.size // 8, self.size // 8)
        return self.dec(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class Normalized(nn.Module):
    """Wrap a network so that it works in the units of its input.

    ``forward(x) = net((x - m) / s) * s + m`` with ``m``, ``s`` the mean and standard deviation of
    each image. Training compares ``net``'s output with the target normalised by the *input's* ``m``
    and ``s`` (:meth:`normalized_forward`), so the loss does not depend on the data's scale.
    """

    def __init__(self, net: nn.Module, eps: float = 1e-6):
        super().__init__()
        self.net = net
        self.eps = eps

    def stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = x.mean(dim=(-2, -1), keepdim=True)
        s = x.std(dim=(-2, -1), keepdim=True).clamp_min(self.eps)
        return m, s

    def normalized_forward(self, x: torch.Tensor):
        """Return ``(net output, m, s)``: the output in normalised units and the input's statistics."""
        m, s = self.stats(x)
        return self.net((x - m) / s), m, s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, m, s = self.normalized_forward(x)
        return out * s + m


class Cascade(nn.Module):
    """A chain of denoisers; block ``i`` receives block ``i - 1``'s output (CDAE has three)."""

    def __init__(self, blocks: list[nn.Module]):
        super().__init__()
        if not blocks:
            raise ValueError("a cascade needs at least one block")
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x

    def intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every block, in order."""
        outs = []
        for b in self.blocks:
            x = b(x)
            outs.append(x)
        return outs


@dataclass(frozen=True)
class GeneralUNetConfig:
    """Widths of the U-Net's levels (the last is the bottleneck) and its activation slope.

    Attributes
    ----------
    channels : tuple of int -- channels at 1/2, 1/4, 1/8 of the image size and in the bottleneck.
    """

    channels: tuple = (32, 64, 128, 128)

    def __post_init__(self):
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError("channels must list 4 positive widths (three levels and the bottleneck)")


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv2d(o, o, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))


class GeneralUNet(nn.Module):
    """U-Net: unshuffle 2 -> [c0] -> pool -> [c1] -> pool -> [c2] -> [c3] -> up -> [c1] -> up -> [c0] -> shuffle 2."""

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


# ------------------------------------------------------------------------------------- factories
def autoencoder(config: AEConfig = AEConfig()) -> Normalized:
    """One normalised autoencoder block: the paper's *single DAE* when trained alone."""
    return Normalized(ConvAutoencoder(config))


def cdae(config: AEConfig = AEConfig(), n_blocks: int = 3) -> Cascade:
    """The paper's CDAE: ``n_blocks`` normalised autoencoders in a chain."""
    return Cascade([autoencoder(config) for _ in range(n_blocks)])


def chain(config: AEConfig = AEConfig(), n_blocks: int = 3) -> Normalized:
    """``n_blocks`` autoencoders in a row with *one* normalisation at the input: the capacity control.

    It has exactly CDAE's parameters. Unlike CDAE's blocks, which are trained separately and so each
    normalise their own input, the chain is trained end to end; normalising between its blocks would
    divide a nearly constant intermediate image by a tiny standard deviation, which stalls training.
    """
    if n_blocks < 1:
        raise ValueError("n_blocks must be >= 1")
    return Normalized(nn.Sequential(*[ConvAutoencoder(config) for _ in range(n_blocks)]))


def dncnn(config: DnCNNConfig = DnCNNConfig()) -> Normalized:
    return Normalized(DnCNN(config))


def noise2void_unet(config: Noise2VoidConfig = Noise2VoidConfig()) -> Normalized:
    return Normalized(Noise2VoidUNet(config))


def general_unet(config: GeneralUNetConfig = GeneralUNetConfig()) -> Normalized:
    """The general denoiser (beyond the paper): a normalised :class:`GeneralUNet`."""
    return Normalized(GeneralUNet(config))


#: name -> (factory, config class); used to save and rebuild models from checkpoints.
ARCHITECTURES = {
    "autoencoder": (autoencoder, AEConfig),
    "cdae": (cdae, AEConfig),
    "chain": (chain, AEConfig),
    "dncnn": (dncnn, DnCNNConfig),
    "noise2void_unet": (noise2void_unet, Noise2VoidConfig),
    "general_unet": (general_unet, GeneralUNetConfig),
}


def build(architecture: str, config: dict | None = None, **kwargs) -> nn.Module:
    """Build a model by name: a key of :data:`ARCHITECTURES` (``"autoencoder"``, ``"cdae"``, ``"chain"``,
    ``"dncnn"``, ``"noise2void_unet"``, ``"general_unet"``)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}")
    factory, cfg_cls = ARCHITECTURES[architecture]
    return factory(cfg_cls(**(config or {})), **kwargs)


def describe(model: nn.Module, size: int = 64) -> "list[dict]":
    """Layer table: name, type, output shape for a ``size`` px input, and parameter count."""
    rows = []
    hooks = []

    def hook(name):
        def f(mod, inp, out):
            rows.append(dict(layer=name, type=type(mod).__name__, output_shape=tuple(out.shape[1:]),
                             parameters=sum(p.numel() for p in mod.parameters(recurse=False))))
        return f

    for name, mod in model.named_modules():
        if len(list(mod.children())) == 0:
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 1, size, size))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return rows


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def config_dict(config) -> dict:
    return asdict(config)
