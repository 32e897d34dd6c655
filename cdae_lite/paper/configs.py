"""One config per experiment of the paper, with the paper's defaults and a quick variant."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cdae_lite.denoise.finetune import FineTuneConfig
from cdae_lite.denoise.models import AEConfig, DnCNNConfig, Noise2VoidConfig
from cdae_lite.denoise.train import TrainConfig
from cdae_lite.paper.profiles import ProfiledConfig, quick
from cdae_lite.paper.profiles import smoke_overrides as smoke_values
from cdae_lite.simulation.config import SimulationConfig


@dataclass(frozen=True)
class CDAEExperiment(ProfiledConfig):
    """Everything that defines chapters 2 and 3: data, architecture, pre-training, fine-tuning.

    ``full()`` is the paper's scale; ``quick()`` the same protocol on 32 px images, 100 images per
    view and fewer epochs (8 of pre-training, 5 of fine-tuning per block), for a CPU.
    """

    sim: SimulationConfig = SimulationConfig()
    ae: AEConfig = AEConfig()
    pretrain: TrainConfig = TrainConfig()
    finetune: FineTuneConfig = FineTuneConfig()
    seed: int = 0

    def with_seed(self, seed: int) -> "CDAEExperiment":
        """The same experiment with every random draw (data, initialisation, batches) reseeded."""
        return replace(self, seed=seed, sim=replace(self.sim, seed=seed),
                       pretrain=replace(self.pretrain, seed=seed),
                       finetune=replace(self.finetune, seed=seed, train=replace(self.finetune.train, seed=seed)))

    @classmethod
    def quick_overrides(cls) -> dict:
        # fine-tuning 5 epochs per block (the paper's protocol: 10), for the quick book's time budget
        return {"sim": quick(SimulationConfig), "pretrain": TrainConfig(epochs=8),
                "finetune": FineTuneConfig(train=TrainConfig(epochs=5, lr=5e-4))}

    @classmethod
    def smoke_overrides(cls) -> dict:
        # 64 px and the paper's networks, with the smoke path's simulation sizes (SMOKE_OVERRIDES)
        return {"sim": SimulationConfig(**smoke_values(SimulationConfig)), "pretrain": TrainConfig(epochs=1),
                "finetune": FineTuneConfig(train=TrainConfig(epochs=1, lr=5e-4))}


@dataclass(frozen=True)
class BaselineExperiment(ProfiledConfig):
    """Chapter 4 (the paper's Table 1 and beyond): every denoiser on the same test images.

    Attributes
    ----------
    cdae : CDAEExperiment -- data, and the single DAE / CDAE models (from chapters 2 and 3).
    n_eval : int -- test images per protein scored by every method (BM3D costs ~1 s per image).
    n_tune : int -- training-protein images used to tune the classical filters' parameters.
    dncnn, dncnn_train : DnCNN architecture and training (on the training protein's pairs).
    n2v, n2v_train, n2v_fraction : Noise2Void U-Net, training, masked-pixel fraction (on each
        test protein's own noisy images: self-supervised, no clean targets).
    snr_sweep, n_sweep : input SNRs and images per SNR of the robustness figure.
    """

    cdae: CDAEExperiment = CDAEExperiment()
    n_eval: int = 200
    n_tune: int = 128
    dncnn: DnCNNConfig = DnCNNConfig()
    dncnn_train: TrainConfig = TrainConfig(epochs=20, optimizer="adam")
    n2v: Noise2VoidConfig = Noise2VoidConfig(channels=32)
    n2v_train: TrainConfig = TrainConfig(epochs=30, optimizer="adam", val_fraction=0.0)
    n2v_fraction: float = 0.02
    snr_sweep: tuple = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    n_sweep: int = 64

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"cdae": CDAEExperiment.quick(), "n_eval": 16, "n_tune": 8,
                "dncnn": DnCNNConfig(depth=8, channels=32),
                "dncnn_train": TrainConfig(epochs=10, optimizer="adam"),
                "n2v": Noise2VoidConfig(channels=16),
                "n2v_train": TrainConfig(epochs=5, optimizer="adam", val_fraction=0.0),  # per test protein, as
                "n_sweep": 8}  # fine-tuning (5 epochs per block in the quick profile)

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"cdae": CDAEExperiment.full(**CDAEExperiment.smoke_overrides()), "n_eval": 4, "n_tune": 4,
                "dncnn_train": TrainConfig(epochs=1, optimizer="adam"),
                "n2v_train": TrainConfig(epochs=1, optimizer="adam", val_fraction=0.0),
                "snr_sweep": (0.1,), "n_sweep": 4}


@dataclass(frozen=True)
class ClusteringExperiment(ProfiledConfig):
    """Chapter 5 (the paper's Table 2 and beyond): clustering the test proteins by view.

    Attributes
    ----------
    cdae : CDAEExperiment -- data and the CDAE / DAE networks.
    n_pca : int -- principal components for PCA + k-means.
    feature_train : TrainConfig -- training of the CAE and DAE feature networks (the paper: RMSprop,
        20 epochs).
    aae_iterations : int -- adversarial autoencoder iterations (the paper: 1500).
    snr_sweep : input SNRs of the F1-versus-SNR curves.
    sweep_finetune_epochs : int | None -- fine-tuning epochs per block at each SNR of the sweep (None:
        the cascade experiment's).
    align_iterations : iterations of the alignment-aware 2D classification.
    """

    cdae: CDAEExperiment = CDAEExperiment()
    n_pca: int = 10
    feature_train: TrainConfig = TrainConfig(epochs=20)
    aae_iterations: int = 1500
    snr_sweep: tuple = (0.02, 0.03, 0.05, 0.1, 0.2, 0.5)
    sweep_finetune_epochs: int | None = None
    align_iterations: int = 8

    @classmethod
    def quick_overrides(cls) -> dict:
        # the AAE's 25 batches of 64 are 4 passes over a test protein's 400 images, as the CAE and DAE get
        return {"cdae": CDAEExperiment.quick(), "feature_train": TrainConfig(epochs=4),
                "aae_iterations": 25, "snr_sweep": (0.03, 0.1, 0.3), "align_iterations": 5}

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"cdae": CDAEExperiment.full(**CDAEExperiment.smoke_overrides()),
                "feature_train": TrainConfig(epochs=1), "aae_iterations": 2, "snr_sweep": (0.1,),
                "align_iterations": 1}


#: Reductions applied by ``--cpu-budget`` so that the full profile runs on a 2-core CPU in hours, not
#: days. The data, the CDAE protocol and all sample sizes stay at the paper's scale.
CPU_BUDGET_NOTE = ("CPU budget: DnCNN with 10 layers of 48 channels (the paper's: 17 of 64) for 10 epochs; Noise2Void "
                   "10 epochs; CAE and DAE feature networks 10 epochs (paper: 20); adversarial autoencoder 300 "
                   "iterations (paper: 1500); fine-tuning at each SNR of the clustering sweep 8 epochs per block.")


#: The ``cpu`` profile: what the full profile becomes when no GPU is lent (recorded in results/cpu/).
CPU_IMAGES_PER_VIEW = 250


#: What the ``cpu`` profile is (recorded in results/cpu/ when no GPU is lent).
CPU_PROFILE_NOTE = (f"cpu profile: the full profile (64 px, the paper's four views, SNRs, networks, epochs and k) "
                    f"with {CPU_IMAGES_PER_VIEW} images per view instead of 1000 (training protein: "
                    f"{4 * CPU_IMAGES_PER_VIEW} pairs per block; test proteins: 3 x {4 * CPU_IMAGES_PER_VIEW} "
                    "images), run on a 2-core CPU because no GPU was available.")
