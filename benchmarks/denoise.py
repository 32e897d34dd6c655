"""Inference throughput of the general denoiser (the default model; also averaged over 8 flips and transposes,
as ``--symmetrize 8`` and the stack-aware mode run it), the paper's autoencoder and the 3-block CDAE, images per second.

Usage: ``python benchmarks/denoise.py [--sizes 64 128] [--devices cpu cuda] [--json out]``

Options compared on CUDA: float32 vs bfloat16 autocast, channels-last layout, torch.compile. The
CPU runs float32, channels-last. Timed on device-resident batches (no host transfer), median of 3.
"""

import argparse

import torch
from _common import device_label, devices, print_table, timed

from cdae_lite.denoise.inference import Symmetrized
from cdae_lite.denoise.models import autoencoder, cdae, general_unet


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--devices", nargs="+")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    for dev in devices(a.devices):
        variants = [("fp32, channels-last", False, False)]
        if dev.type == "cuda":
            variants += [("bf16, channels-last", True, False), ("bf16, channels-last, compiled", True, True)]
        for size in a.sizes:
            batch = 256 if dev.type == "cpu" else 8192
            x = torch.randn(batch, 1, size, size, device=dev).contiguous(memory_format=torch.channels_last)
            for arch, make in (("general denoiser (U-Net)", denoiser),
                               ("general denoiser, symmetrised x8", lambda: Symmetrized(general_unet(), 8)),
                               ("autoencoder", autoencoder), ("CDAE (3 blocks)", cdae)):
                for label, bf16, compiled in variants:
                    model = make().eval().to(dev, memory_format=torch.channels_last)
                    run = torch.compile(model) if compiled else model

                    @torch.no_grad()
                    def infer():
                        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                            run(x)

                    t = timed(infer, dev)
                    rows.append({"device": device_label(dev), "model": arch, "size_px": size, "variant": label,
                                 "batch": batch, "images_per_s": round(batch / t)})
    print_table("inference throughput", rows, a.json)


if __name__ == "__main__":
    main()
