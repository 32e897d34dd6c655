"""Images per second of every denoiser of chapter 4, at 64 and 128 px.

Usage: ``python benchmarks/baselines.py [--sizes 64 128] [--n 16] [--json out]``

Classical methods run on the CPU with all cores (BM3D and NL-means in parallel over images, as the
library runs them); learned ones on the CPU (and on CUDA when present) with untrained weights of the
chapter's architectures (speed does not depend on the weights). Images: the proteasome at SNR 0.1.
"""

import argparse
import time

import torch
from _common import device_label, devices, print_table

from cdae_lite.denoise import baselines
from cdae_lite.denoise.models import DnCNNConfig, Noise2VoidConfig, autoencoder, cdae, dncnn, noise2void_unet
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.stacks import simulate_protein


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--n", type=int, default=16, help="images per timing (more for the fast methods)")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    for size in a.sizes:
        s = simulate_protein("proteasome", SimulationConfig(image_size=size, images_per_view=64), device="cpu")
        x = s.noisy[0.1]
        sigma = s.meta["cdaeNoiseSigma_0.1"].to_numpy()
        classical = {"Gaussian": baselines.Gaussian(1.5), "Wiener": baselines.Wiener(), "TV": baselines.TV(n_jobs=-1),
                     "Wavelet": baselines.Wavelet(n_jobs=-1), "NL-means": baselines.NLMeans(n_jobs=-1),
                     "BM3D": baselines.BM3D(n_jobs=-1)}
        for name, d in classical.items():
            n = a.n if name in ("BM3D", "NL-means") else len(x)
            d.denoise(x[:2], sigma=sigma[:2])
            t = time.perf_counter()
            d.denoise(x[:n], sigma=sigma[:n])
            rows.append({"method": name, "size_px": size, "device": device_label(torch.device("cpu")),
                         "images_per_s": round(n / (time.perf_counter() - t), 1)})
        for dev in devices():
            learned = {"DnCNN (17 x 64)": dncnn(DnCNNConfig()),
                       "Noise2Void U-Net": noise2void_unet(Noise2VoidConfig(32)),
                       "single DAE": autoencoder(), "CDAE": cdae()}
            for name, m in learned.items():
                d = baselines.Learned(m, name, device=dev)
                d.denoise(x[:8])
                t = time.perf_counter()
                d.denoise(x)
                rows.append({"method": name, "size_px": size, "device": device_label(dev),
                             "images_per_s": round(len(x) / (time.perf_counter() - t), 1)})
    print_table("denoisers: images per second (learned methods: inference only)", rows, a.json)


if __name__ == "__main__":
    main()
