"""Learned features for clustering, as compared in the paper's Table 2 (section 4.4).

- **CAE**: the paper's autoencoder trained to reconstruct the noisy images themselves; features are
  the encoder's output (the "middle layer").
- **DAE**: the same network trained from scratch towards the 30-nearest-neighbour mean images (no
  clean targets); as in the paper, its *outputs* are clustered.
- **AAE**: an adversarial autoencoder whose 8-number latent code is pushed towards a normal
  distribution by a discriminator (RMSprop, 1500 iterations as in the paper); features are the codes.

All return ``(features (n, d) float32, training record)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import autoencoder
from cdae_lite.denoise.networks import AdversarialAutoencoder, AEConfig
from cdae_lite.denoise.targets import TargetConfig, find_neighbourhoods, neighbourhood_means
from cdae_lite.denoise.train import TrainConfig, fit
from cdae_lite.images import normalise
from cdae_lite.runtime import get_device, progress_enabled, seed_everything


@torch.no_grad()
def encoder_features(model, images, device=None, batch_size: int = 256) -> np.ndarray:
    """Flattened encoder output of a normalised autoencoder for each image (the paper's "middle layer").

    Parameters
    ----------
    model : torch.nn.Module
        A normalised autoencoder (:func:`~cdae_lite.denoise.models.autoencoder`); put in eval mode on
        ``device``.
    images : array (n, s, s)
        The images, ``s`` a multiple of 8; each is normalised to zero mean and unit std first.
    device : str or torch.device, optional
        Where to run (default: :func:`~cdae_lite.runtime.get_device`).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ndarray (n, channels * (s / 8)^2) float32
        The features of each image (32 channels for the paper's autoencoder).
    """
    dev = get_device(device)
    model.eval().to(dev)
    x = normalise(images)
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[i:i + batch_size])[:, None].to(dev)
        out.append(model.net.encode(xb).flatten(1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def cae_features(images, ae: AEConfig = AEConfig(), cfg: TrainConfig = TrainConfig(), device=None):
    """Train a CAE to reconstruct the noisy images; return its latent features.

    Parameters
    ----------
    images : array (n, s, s)
        The noisy images, ``s`` a multiple of 8.
    ae : AEConfig
        The autoencoder's architecture.
    cfg : TrainConfig
        Its training (epochs, batch, optimiser, seed).
    device : str or torch.device, optional
        Where to train and run.

    Returns
    -------
    features : ndarray (n, channels * (s / 8)^2) float32
        :func:`encoder_features` of the trained model.
    record : dict
        ``{"history": ...}``, the training history as a dict (``History.as_dict``).
    """
    seed_everything(cfg.seed)
    model = autoencoder(ae)
    h = fit(model, images, images, cfg, device, desc="CAE")
    return encoder_features(model, images, device), {"history": h.as_dict()}


def dae_features(images, ae: AEConfig = AEConfig(), cfg: TrainConfig = TrainConfig(), k: int = 30,
                 n_components: int = 10, device=None):
    """Train a DAE from scratch towards k-NN mean images; return its outputs, flattened.

    Parameters
    ----------
    images, ae : array (n, s, s), AEConfig
        The noisy images and the autoencoder, as in :func:`cae_features`.
    cfg : TrainConfig
        Its training; ``cfg.seed`` also seeds the PCA of the neighbour search.
    k : int
        Neighbours averaged into each target (:func:`~cdae_lite.denoise.targets.neighbourhood_means`).
    n_components : int
        Principal components the neighbours are searched in.
    device : str or torch.device, optional
        Where to search, train and run.

    Returns
    -------
    features : ndarray (n, s * s) float32
        The trained model's outputs, each normalised to zero mean and unit std.
    record : dict
        ``{"history": ...}``, the training history as a dict.
    """
    hoods = find_neighbourhoods(images, TargetConfig(k, n_components, seed=cfg.seed), device=device)
    targets = neighbourhood_means(images, hoods)
    seed_everything(cfg.seed)
    model = autoencoder(ae)
    h = fit(model, images, targets, cfg, device, desc="DAE (mean targets)")
    out = predict(model, images, device=device)
    return normalise(out).reshape(len(out), -1), {"history": h.as_dict()}


def aae_features(images, latent: int = 8, iterations: int = 1500, batch_size: int = 64, lr: float = 1e-3,
                 seed: int = 0, device=None):
    """Train an adversarial autoencoder (reconstruction + latent prior); return its latent codes.

    Parameters
    ----------
    images : array (n, s, s)
        The noisy images, ``s`` a multiple of 8; each is normalised to zero mean and unit std.
    latent : int
        Numbers in each image's code.
    iterations : int
        Training iterations (RMSprop).
    batch_size : int
        Images drawn per iteration.
    lr : float
        Learning rate of the reconstruction; the discriminator and the encoder's adversarial step use ``lr / 5``.
    seed : int
        Seeds the network and the draws.
    device : str or torch.device, optional
        Where to train and run.

    Returns
    -------
    features : ndarray (n, latent) float32
        Each image's code.
    record : dict
        ``reconstruction_loss`` and ``discriminator_loss``: lists of float, every 50th iteration's loss.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, or ``s`` not a multiple of 8.
    """
    from tqdm.auto import trange

    dev = get_device(device)
    x = torch.from_numpy(normalise(images))[:, None]
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    model = AdversarialAutoencoder(x.shape[-1], latent).to(dev, memory_format=torch.channels_last)
    ae_params = list(model.enc.parameters()) + list(model.dec_in.parameters()) + list(model.dec.parameters())
    opt_ae = torch.optim.RMSprop(ae_params, lr=lr, alpha=0.9)
    opt_d = torch.optim.RMSprop(model.disc.parameters(), lr=lr / 5, alpha=0.9)
    opt_g = torch.optim.RMSprop(model.enc.parameters(), lr=lr / 5, alpha=0.9)
    rec_hist, d_hist = [], []
    for _ in trange(iterations, desc="AAE", disable=not progress_enabled(), leave=False):
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        xb = x[idx].to(dev).contiguous(memory_format=torch.channels_last)
        # 1. reconstruction
        opt_ae.zero_grad()
        rec = F.mse_loss(model(xb), xb)
        rec.backward()
        opt_ae.step()
        # 2. discriminator: prior samples are "real", codes are "fake". The encoder does not change
        # until step 3, so step 3 reuses these codes (and their graph) instead of encoding again.
        z = model.encode(xb)
        z_real = torch.randn(z.shape, generator=gen).to(dev)
        opt_d.zero_grad()
        d_loss = (F.binary_cross_entropy_with_logits(model.disc(z_real), torch.ones(len(xb), 1, device=dev))
                  + F.binary_cross_entropy_with_logits(model.disc(z.detach()), torch.zeros(len(xb), 1, device=dev)))
        d_loss.backward()
        opt_d.step()
        # 3. the encoder learns to fool the discriminator
        opt_g.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(model.disc(z), torch.ones(len(xb), 1, device=dev))
        g_loss.backward()
        opt_g.step()
        rec_hist.append(rec.item())
        d_hist.append(d_loss.item())
    model.eval()
    with torch.no_grad():
        z = torch.cat([model.encode(x[i:i + 512].to(dev)).cpu() for i in range(0, len(x), 512)])
    return z.numpy().astype(np.float32), {"reconstruction_loss": rec_hist[::50], "discriminator_loss": d_hist[::50]}
