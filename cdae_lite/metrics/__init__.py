"""How good is a denoised image, and how good is a clustering?

Image metrics (:mod:`cdae_lite.metrics.quality`) compare an estimate with the clean reference, image by
image, and return one number per image (``(n,)`` arrays); tables report their mean and standard deviation.

- **PSNR** (dB) ``= 10 log10(R^2 / MSE)`` with ``MSE`` the mean squared difference over the box and
  ``R`` the *reference image's* range ``max - min`` (per image), in the units of the noisy input. It
  equals ``skimage.metrics.peak_signal_noise_ratio(ref, est, data_range=R)``. Identical images give
  ``inf``. With histogram equalisation (``he=True``) the estimate is equalised to [0, 1] and compared
  with the reference scaled to [0, 1] (``R = 1``), as the paper's "with HEE" columns.
- **SSIM**: ``skimage.metrics.structural_similarity`` with the same ``R``.
- **FRC**: Fourier ring correlation between estimate and reference, per ring of spatial frequency.

PSNR alone cannot tell a denoiser that loses structure from one that only shrinks contrast (a
faithful image at half its contrast loses about 6 dB). Three numbers tell them apart:

- **gain**: the slope of the estimate regressed on the reference, per image (1: contrast kept; 0.5:
  halved; it is about the contrast the estimate carries, not its noise);
- **correlation**: Pearson correlation with the reference (shape, whatever the scale);
- **affine PSNR** (an *oracle*: it uses the truth): the PSNR after the best per-image affine map
  ``a * estimate + b`` onto the reference, i.e. what the estimate would score with its contrast and
  offset put right. ``affine PSNR - PSNR`` is the part of the loss that is contrast and offset.

An output that turns every view into one centred blob can score a good PSNR on a mostly empty box:
:func:`view_fidelity` tells whether outputs still tell the views apart, or are **collapsed**. Without a
truth (real particles), :func:`support_mask` takes a particle's support from a trusted estimate and
:func:`outside_ratio` measures how much an output shows outside it (:mod:`cdae_lite.metrics.fidelity`).

Clusterings are scored against the true views by matched and pairwise precision, recall and F1, ARI and
NMI (:mod:`cdae_lite.metrics.clustering`), and their class averages by the FRC resolution against the true
views after alignment (:func:`class_average_resolution`, :mod:`cdae_lite.metrics.classes`).

Every name below is imported from its module and documented here, as ``cdae_lite.metrics.<name>``.
"""

from cdae_lite.metrics.classes import class_average_resolution
from cdae_lite.metrics.clustering import (chance_f1, clustering_scores, confusion_matrix, contingency, matched_scores,
                                          pairwise_scores)
from cdae_lite.metrics.fidelity import (CHANCE_TOLERANCE, COLLAPSE_CORRELATION, outside_ratio, support_mask,
                                        view_fidelity)
from cdae_lite.metrics.quality import (affine_psnr, correlation, frc, frc_resolution, gain, image_scores, psnr, ssim,
                                       summarize)

__all__ = ["psnr", "ssim", "gain", "correlation", "affine_psnr", "image_scores", "frc", "frc_resolution", "summarize",
           "view_fidelity", "support_mask", "outside_ratio", "contingency", "pairwise_scores", "matched_scores",
           "clustering_scores", "chance_f1", "confusion_matrix", "class_average_resolution"]
