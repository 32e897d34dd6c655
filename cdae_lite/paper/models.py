"""The paper's data and trained networks (pre-trained, fine-tuned, learned baselines), all cached."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from cdae_lite.denoise.finetune import finetune
from cdae_lite.denoise.train import ladder_pairs, pretrain_cdae, pretrain_end_to_end, pretrain_single
from cdae_lite.paper.cache import _hist, cached_model, data_hash
from cdae_lite.paper.configs import BaselineExperiment, CDAEExperiment
from cdae_lite.simulation.proteins import test_proteins, training_protein
from cdae_lite.simulation.stacks import SimulatedStack, simulate_protein


def paper_data(exp: CDAEExperiment, device=None) -> tuple[SimulatedStack, dict[str, SimulatedStack]]:
    """The training protein (paired SNRs + clean) and the three test proteins (SNR 0.1)."""
    train = simulate_protein(training_protein(), exp.sim, device=device)
    tests = {p.name: simulate_protein(p, exp.sim, device=device) for p in test_proteins()}
    return train, tests


def cdae_pairs(stack: SimulatedStack, snrs: tuple[float, ...] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Block ``i``'s pre-training pairs: (SNR_i, SNR_{i+1}), the last block (SNR_last, clean)."""
    s = sorted(stack.noisy) if snrs is None else list(snrs)
    return ladder_pairs([stack.noisy[a] for a in s] + [stack.clean])


def pretrained_models(exp: CDAEExperiment, train: SimulatedStack, device=None,
                      which: tuple[str, ...] = ("single", "cdae", "control")) -> dict:
    """The pre-trained models of chapter 2, trained once and cached.

    Returns ``{"single": (model, record), "cdae": (...), "control": (...)}`` (those in ``which``):

    - ``single``: one autoencoder, SNR 0.1 to clean (the paper's single DAE);
    - ``cdae``: three blocks pre-trained 0.1 to 0.4, 0.4 to 0.6, 0.6 to clean;
    - ``control``: CDAE's three autoencoders in a chain trained end to end, 0.1 to clean (capacity
      control, :func:`cdae_lite.denoise.models.chain`).
    """
    lo = min(train.noisy)
    key = (exp.sim.as_dict(), exp.ae.__dict__, exp.pretrain.as_dict(), data_hash(*cdae_pairs(train)[0]))
    aec = asdict(exp.ae)

    def single():
        m, h = pretrain_single(train.noisy[lo], train.clean, exp.ae, exp.pretrain, device)
        return m, {"histories": [_hist(h)]}

    def cascade():
        m, hs = pretrain_cdae(cdae_pairs(train), exp.ae, exp.pretrain, device)
        return m, {"histories": [_hist(h) for h in hs]}

    def control():
        m, h = pretrain_end_to_end(train.noisy[lo], train.clean, exp.ae, exp.pretrain, 3, device)
        return m, {"histories": [_hist(h)]}

    makers = {"single": (single, "autoencoder"), "cdae": (cascade, "cdae"), "control": (control, "chain")}
    return {name: cached_model(name, key, makers[name][0], makers[name][1], aec) for name in which}


def finetuned_model(exp: CDAEExperiment, base_name: str, base, stack: SimulatedStack, device=None):
    """Fine-tune a pre-trained model on one test stack (cached); returns ``(model, record)``.

    The record holds per-block neighbour purity and training histories.
    """
    x = stack.noisy[min(stack.noisy)]
    key = (exp.as_dict(), base_name, stack.name, data_hash(x))
    arch = "cdae"

    def run():
        model, rep = finetune(base, x, exp.finetune, labels=stack.labels, device=device)
        return model, {"purity": rep.purity, "histories": [_hist(h) for h in rep.histories]}

    return cached_model(f"{base_name}-ft-{stack.name}", key, run, arch, asdict(exp.ae))


def dncnn_model(bx: BaselineExperiment, train: SimulatedStack, device=None):
    """DnCNN trained on the training protein's (lowest SNR, clean) pairs, cached."""
    from cdae_lite.denoise.models import dncnn
    from cdae_lite.denoise.train import fit
    from cdae_lite.runtime import seed_everything

    lo = min(train.noisy)

    def run():
        seed_everything(bx.dncnn_train.seed)
        m = dncnn(bx.dncnn)
        h = fit(m, train.noisy[lo], train.clean, bx.dncnn_train, device, desc="DnCNN")
        return m, {"history": h.as_dict()}

    key = (data_hash(train.noisy[lo], train.clean), asdict(bx.dncnn), bx.dncnn_train.as_dict())
    return cached_model("dncnn", key, run, "dncnn", asdict(bx.dncnn))


def noise2void_model(bx: BaselineExperiment, stack: SimulatedStack, device=None, snr: float | None = None):
    """A Noise2Void U-Net trained on one stack's own noisy images (no clean targets), cached."""
    from cdae_lite.denoise.models import noise2void_unet
    from cdae_lite.denoise.train import fit
    from cdae_lite.runtime import seed_everything

    snr = min(stack.noisy) if snr is None else snr
    x = stack.noisy[snr]

    def run():
        seed_everything(bx.n2v_train.seed)
        m = noise2void_unet(bx.n2v)
        h = fit(m, x, x, bx.n2v_train, device, desc=f"Noise2Void {stack.name}", blind_spot_fraction=bx.n2v_fraction)
        return m, {"history": h.as_dict()}

    key = (data_hash(x), stack.name, asdict(bx.n2v), bx.n2v_train.as_dict(), bx.n2v_fraction)
    return cached_model(f"n2v-{stack.name}", key, run, "noise2void_unet", asdict(bx.n2v))


def learned_denoisers(bx: BaselineExperiment, train: SimulatedStack, stack: SimulatedStack, device=None) -> dict:
    """Chapter 4's learned contenders for one test stack: ``{name: baselines.Learned}`` (all cached)."""
    from cdae_lite.denoise.baselines import Learned

    exp = bx.cdae
    pre = pretrained_models(exp, train, device, which=("single", "cdae"))
    return {"DnCNN": Learned(dncnn_model(bx, train, device)[0], "DnCNN", device=device),
            "Noise2Void": Learned(noise2void_model(bx, stack, device)[0], "Noise2Void", device=device),
            "single DAE (fine-tuned)": Learned(finetuned_model(exp, "single", pre["single"][0], stack, device)[0],
                                               "single DAE (fine-tuned)", device=device),
            "CDAE (pre-trained)": Learned(pre["cdae"][0], "CDAE (pre-trained)", device=device),
            "CDAE (fine-tuned)": Learned(finetuned_model(exp, "cdae", pre["cdae"][0], stack, device)[0],
                                         "CDAE (fine-tuned)", device=device)}
