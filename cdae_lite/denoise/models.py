"""Models: networks in the units of their input, the cascade (CDAE), and every model built by name.

Every denoiser here maps images to images *in the units of its input*: it normalises each image
(subtracts its mean, divides by its standard deviation), runs the network
(:mod:`cdae_lite.denoise.networks`), and undoes the normalisation. So it accepts any offset and scale
of pixel values (``model(a * x + b) == a * model(x) + b`` for ``a > 0``), and training targets are
expressed in the units of the input (see :meth:`Normalized.normalized_forward`).

Tensors are ``(n, 1, size, size)`` float32.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn as nn

from cdae_lite.denoise.networks import (AEConfig, ConvAutoencoder, DnCNN, DnCNNConfig, GeneralUNet, GeneralUNetConfig,
                                        Noise2VoidConfig, Noise2VoidUNet)


class Normalized(nn.Module):
    """Wrap a network so that it works in the units of its input.

    ``forward(x) = net((x - m) / s) * s + m`` with ``m``, ``s`` the mean and standard deviation of
    each image. Training compares ``net``'s output with the target normalised by the *input's* ``m``
    and ``s`` (:meth:`normalized_forward`), so the loss does not depend on the data's scale.

    Parameters
    ----------
    net : torch.nn.Module
        The network, acting on normalised images (n, 1, size, size).
    eps : float
        Smallest standard deviation divided by (a constant image is not blown up).
    """

    def __init__(self, net: nn.Module, eps: float = 1e-6):
        super().__init__()
        self.net = net
        self.eps = eps

    def stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each image's mean and standard deviation (at least ``eps``), each (n, 1, 1, 1), in data units."""
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
    """A chain of denoisers; block ``i`` receives block ``i - 1``'s output (CDAE has three).

    Parameters
    ----------
    blocks : list of torch.nn.Module
        The denoisers, in order (at least one), each mapping (n, 1, size, size) to the same shape.

    Raises
    ------
    ValueError
        If ``blocks`` is empty.
    """

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
        """The output of every block, in order.

        Parameters
        ----------
        x : torch.Tensor
            float32 (n, 1, size, size), in data units.

        Returns
        -------
        list of torch.Tensor
            One (n, 1, size, size) per block, in data units.
        """
        outs = []
        for b in self.blocks:
            x = b(x)
            outs.append(x)
        return outs


# ------------------------------------------------------------------------------------- factories
def autoencoder(config: AEConfig = AEConfig()) -> Normalized:
    """One normalised autoencoder block: the paper's *single DAE* when trained alone.

    Parameters
    ----------
    config : AEConfig
        The block's architecture.

    Returns
    -------
    Normalized
        A :class:`~cdae_lite.denoise.networks.ConvAutoencoder` in the units of its input.
    """
    return Normalized(ConvAutoencoder(config))


def cdae(config: AEConfig = AEConfig(), n_blocks: int = 3) -> Cascade:
    """The paper's CDAE: ``n_blocks`` normalised autoencoders in a chain.

    Parameters
    ----------
    config : AEConfig
        Every block's architecture.
    n_blocks : int
        Blocks (the paper's 3).

    Returns
    -------
    Cascade
    """
    return Cascade([autoencoder(config) for _ in range(n_blocks)])


def chain(config: AEConfig = AEConfig(), n_blocks: int = 3) -> Normalized:
    """``n_blocks`` autoencoders in a row with *one* normalisation at the input: the capacity control.

    It has exactly CDAE's parameters. Unlike CDAE's blocks, which are trained separately and so each
    normalise their own input, the chain is trained end to end; normalising between its blocks would
    divide a nearly constant intermediate image by a tiny standard deviation, which stalls training.

    Parameters
    ----------
    config : AEConfig
        Every autoencoder's architecture.
    n_blocks : int
        Autoencoders in the row (at least 1).

    Returns
    -------
    Normalized

    Raises
    ------
    ValueError
        If ``n_blocks < 1``.
    """
    if n_blocks < 1:
        raise ValueError("n_blocks must be >= 1")
    return Normalized(nn.Sequential(*[ConvAutoencoder(config) for _ in range(n_blocks)]))


def dncnn(config: DnCNNConfig = DnCNNConfig()) -> Normalized:
    """DnCNN in the units of its input (chapter 4's learned baseline).

    Parameters
    ----------
    config : DnCNNConfig
        Depth and width.

    Returns
    -------
    Normalized
    """
    return Normalized(DnCNN(config))


def noise2void_unet(config: Noise2VoidConfig = Noise2VoidConfig()) -> Normalized:
    """Noise2Void's U-Net in the units of its input (train it with :func:`~cdae_lite.denoise.train.blind_spot`).

    Parameters
    ----------
    config : Noise2VoidConfig
        Its width.

    Returns
    -------
    Normalized
    """
    return Normalized(Noise2VoidUNet(config))


def general_unet(config: GeneralUNetConfig = GeneralUNetConfig()) -> Normalized:
    """The general denoiser's network (beyond the paper), in the units of its input.

    Parameters
    ----------
    config : GeneralUNetConfig
        The widths of its levels.

    Returns
    -------
    Normalized
        A :class:`~cdae_lite.denoise.networks.GeneralUNet`.
    """
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
    """Build a model by name.

    Parameters
    ----------
    architecture : str
        A key of :data:`ARCHITECTURES`: ``"autoencoder"``, ``"cdae"``, ``"chain"``, ``"dncnn"``,
        ``"noise2void_unet"`` or ``"general_unet"``.
    config : dict, optional
        The config's fields (default: the config class's defaults).
    **kwargs
        Passed to the factory (``n_blocks`` for ``"cdae"`` and ``"chain"``).

    Returns
    -------
    torch.nn.Module
        A new, untrained model.

    Raises
    ------
    ValueError
        If the architecture is unknown.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}")
    factory, cfg_cls = ARCHITECTURES[architecture]
    return factory(cfg_cls(**(config or {})), **kwargs)


def describe(model: nn.Module, size: int = 64) -> "list[dict]":
    """Layer table of a model.

    Parameters
    ----------
    model : torch.nn.Module
        The model (its training mode is restored afterwards).
    size : int
        Side of the square input image, in pixels.

    Returns
    -------
    list of dict
        One per leaf layer: ``layer`` (name), ``type``, ``output_shape`` (without the batch axis) and
        ``parameters`` (count).
    """
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
    """Number of parameters of a model.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters())


def config_dict(config) -> dict:
    """A config dataclass as a dict (what checkpoints store).

    Parameters
    ----------
    config : dataclass instance
        For example an :class:`~cdae_lite.denoise.networks.AEConfig`.

    Returns
    -------
    dict
    """
    return asdict(config)
