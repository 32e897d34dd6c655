"""Shared fixtures. Tests run on the CPU with few threads so that timings do not matter."""

from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory):
    """One model cache (``CDAE_CACHE``) for every test on the full profile's smoke path.

    The cache is keyed by each model's config and data, so a test that trains what an earlier one
    trained (the book's smoke path, then the experiments behind results/) loads it instead: CI time,
    not coverage, since a test run alone trains everything it needs.
    """
    return tmp_path_factory.mktemp("smoke_cache")


def pytest_collection_modifyitems(config, items):
    """The tests that wait for the book's chapters (``book_pool``) last, so that the library tests run while
    the chapters execute; the order is otherwise kept."""
    items.sort(key=lambda item: "executed_chapters" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def book_pool(request, smoke_cache):
    """The chapters the selected book tests need, executing in the background from the session's first test
    (tests/book_exec.py); none when no book test is selected."""
    from book_exec import Pool, book_jobs

    selected = {getattr(item, "originalname", item.name) for item in request.session.items}
    pool = Pool(book_jobs(selected, smoke_cache, ROOT), ROOT)
    yield pool
    pool.stop()


@pytest.fixture
def smoke_models(book_pool, smoke_cache):
    """``smoke_cache`` once the book's smoke path has pre-trained and fine-tuned its models there (when the
    session runs it), with torch on one thread for the test, as in the book's kernels: the simulated data,
    and so the models' cache keys, depend on the number of threads. A test on the smoke path then loads
    the chapters' models instead of training them again beside them."""
    book_pool.wait_for(("smoke", "03_finetuning"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield smoke_cache
    torch.set_num_threads(threads)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def gaussian_blobs(n: int, blobs):
    """A map of anisotropic Gaussian blobs and a function giving its analytic projection.

    ``blobs`` is a list of (centre xyz in pixels from the box centre, sigmas xyz, amplitude).
    """
    c = n // 2
    z, y, x = np.mgrid[:n, :n, :n] - c
    vol = np.zeros((n, n, n))
    for mu, s, a in blobs:
        vol += a * np.exp(-((x - mu[0]) ** 2 / (2 * s[0] ** 2) + (y - mu[1]) ** 2 / (2 * s[1] ** 2)
                            + (z - mu[2]) ** 2 / (2 * s[2] ** 2)))

    def analytic(A):
        yy, xx = np.mgrid[:n, :n] - c
        img = np.zeros((n, n))
        for mu, s, a in blobs:
            mu, s = np.asarray(mu, float), np.asarray(s, float)
            cov = (A @ np.diag(s**2) @ A.T)[:2, :2]
            m = (A @ mu)[:2]
            d = np.stack([xx - m[0], yy - m[1]], -1)
            q = np.einsum("hwi,ij,hwj->hw", d, np.linalg.inv(cov), d)
            img += a * (2 * np.pi) ** 1.5 * np.prod(s) * np.exp(-q / 2) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
        return img

    return vol.astype(np.float32), analytic


@pytest.fixture
def fast_bm3d(monkeypatch):
    """BM3D replaced by a Gaussian filter whose width grows with the sigma it is given, run serially.

    For tests of the plumbing around BM3D (tuning over its sigma factor, rows, records), which the real
    filter's fixed cost (about 0.5 s per image inside the bm4d binary, whatever the image size) makes
    slow; tests of BM3D itself (tests/test_baselines.py) use the real one.
    """
    from scipy.ndimage import gaussian_filter

    from cdae_lite.denoise import baselines

    def one(self, img, sigma):
        width = 0.3 + float(sigma) * self.sigma_factor / (float(np.std(img)) + 1e-12)
        return gaussian_filter(np.asarray(img, np.float64), width)

    serial = baselines._parallel  # worker processes would import the real BM3D
    monkeypatch.setattr(baselines.BM3D, "_one", one)
    monkeypatch.setattr(baselines, "_parallel", lambda fn, x, sig, n_jobs, desc: serial(fn, x, sig, 1, desc))
    return baselines.BM3D
