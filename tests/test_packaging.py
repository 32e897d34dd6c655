"""The two dependency lists (pip's pyproject.toml, conda's environment.yml) must agree."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_list_the_same_packages():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(d) for d in py["dependencies"]}
    for name, extra in py["optional-dependencies"].items():
        if name != "peers":  # the field's tools (chapters 4 and 7), optional, kept out of the environment
            pip_names |= {_name(d) for d in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda_names |= {_name(d) for d in dep["pip"] if not d.startswith("-")}  # -e ., --extra-index-url
        elif _name(dep) not in ("python", "pip"):
            conda_names.add(_name(dep))
    assert conda_names == pip_names, (sorted(conda_names - pip_names), sorted(pip_names - conda_names))


def test_jupyter_book_is_pinned_below_2():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for extra in py["optional-dependencies"].values() for d in extra if _name(d) == "jupyter-book"]
    assert pins and all("<2" in p for p in pins)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert m, "README.md must hold the test command between <!-- test-command --> markers"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "README.md" in ci


def test_the_shipped_model_loads_as_plain_weights_and_denoises():
    # the default model of `cdae-lite denoise` and chapter 6: loads with weights_only, carries its record
    import numpy as np

    from cdae_lite.denoise.checkpoint import load_model
    from cdae_lite.denoise.inference import predict
    from cdae_lite.io.paths import data_path

    model, meta = load_model(data_path("weights/cdae_general.pt"), expect="cdae")
    rec = meta["record"]
    assert rec["command"].endswith("cdae_lite.paper general") and rec["commit"] and rec["n_pairs_per_block"] > 0
    x = np.random.default_rng(0).normal(size=(2, 64, 64)).astype(np.float32)
    y = predict(model, x, device="cpu")
    assert y.shape == x.shape and np.isfinite(y).all() and y.std() < x.std()  # it smooths noise


def test_the_shipped_general_denoiser_loads_and_keeps_contrast():
    # the default model of `cdae-lite denoise` (chapter 7): plain weights, a complete run, gain near 1
    import numpy as np

    from cdae_lite.denoise import load_denoiser, predict, recorded_gain

    model, meta, path = load_denoiser("general")
    rec = meta["record"]
    assert path.name == "denoiser_general.pt" and meta["architecture"] == "general_unet"
    assert rec["complete"] and rec["command"].startswith("python -m cdae_lite.paper general") and rec["commit"]
    assert abs(recorded_gain(meta) - 1) <= 0.1  # so the CLI does not calibrate it by default
    assert recorded_gain(load_denoiser("cdae")[1]) < 0.5  # the shipped CDAE shrinks contrast: calibrated
    x = np.random.default_rng(0).normal(size=(2, 64, 64)).astype(np.float32)
    y = predict(model, x, device="cpu")
    assert y.shape == x.shape and np.isfinite(y).all() and y.std() < x.std()


def test_binder_and_conda_take_the_cpu_build_of_torch():
    # Binder builds the launch button's environment from environment.yml: PyPI's torch wheel for Linux is a
    # multi-GB CUDA build, the CPU index's is a few hundred MB; pip prefers 2.13.0+cpu when both are offered
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip
    assert pip.index("--extra-index-url https://download.pytorch.org/whl/cpu") < pip.index("torch==2.13.0")
