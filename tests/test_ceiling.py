"""Tests of ``cdae_lite.cluster.ceiling``: the classification ceiling with the true templates."""

import numpy as np
import pytest
from test_ml2d import stack

from cdae_lite.cluster import template_ceiling
from cdae_lite.metrics import clustering_scores


def test_ceiling_with_true_templates_is_near_perfect(stack):
    x, truth, ctf, templates = stack
    labels = template_ceiling(x, templates, ctf)
    assert labels.dtype == np.int64 and clustering_scores(truth, labels)["f1"] >= 0.95
    with pytest.raises(ValueError, match="px"):
        template_ceiling(x, templates[:, :16, :16], ctf)
