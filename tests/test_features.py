import numpy as np

from cdae_lite.cluster.features import aae_features, cae_features, dae_features
from cdae_lite.denoise.models import AEConfig
from cdae_lite.denoise.train import TrainConfig


def _data(rng):
    yy, xx = np.indices((16, 16)) - 8
    protos = np.stack([np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / 8.0) for dx, dy in [(-4, 0), (4, 0), (0, 4)]])
    labels = np.repeat(np.arange(3), 20)
    return (protos[labels] + 0.2 * rng.normal(size=(60, 16, 16))).astype(np.float32), labels


def test_feature_extractors_return_one_vector_per_image(rng):
    x, _ = _data(rng)
    cfg = TrainConfig(epochs=1, batch_size=16)
    f, rec = cae_features(x, AEConfig(channels=4), cfg, device="cpu")
    assert f.shape == (60, 4 * 2 * 2) and "history" in rec
    f, _ = dae_features(x, AEConfig(channels=4), cfg, k=5, n_components=4, device="cpu")
    assert f.shape == (60, 256)
    f, rec = aae_features(x, latent=3, iterations=20, batch_size=8, device="cpu")
    assert f.shape == (60, 3) and np.all(np.isfinite(f)) and len(rec["reconstruction_loss"]) == 1
