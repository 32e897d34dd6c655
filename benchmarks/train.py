"""Training throughput of the paper's autoencoder (one CDAE block), images per second.

Usage: ``python benchmarks/train.py [--sizes 64 128] [--batch 64] [--devices cpu cuda] [--json out]``

One training step = forward, backward and RMSprop update on a batch of normalised-MSE pairs, in
channels-last layout, bfloat16 autocast on CUDA. Median of 3 timed runs of ``--steps`` steps after a
warm-up. A CDAE pre-training costs three of these per image (one per block).
"""

import argparse

import torch
from _common import device_label, devices, print_table, timed

from cdae_lite.denoise.models import autoencoder
from cdae_lite.denoise.train import normalized_mse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--devices", nargs="+")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    for dev in devices(a.devices):
        for size in a.sizes:
            model = autoencoder().to(dev, memory_format=torch.channels_last)
            opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
            batch = a.batch if dev.type == "cpu" else max(a.batch, 256)
            x = torch.randn(batch, 1, size, size, device=dev).contiguous(memory_format=torch.channels_last)
            y = torch.randn_like(x)

            def steps():
                for _ in range(a.steps):
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                        out = model(x)
                    normalized_mse(out.float(), y, x).backward()
                    opt.step()

            t = timed(steps, dev)
            rows.append({"device": device_label(dev), "size_px": size, "batch": batch,
                         "train_images_per_s": round(a.steps * batch / t)})
    print_table("training throughput, one autoencoder block (74,593 parameters)", rows, a.json)


if __name__ == "__main__":
    main()
