"""The package's shape: folders are the stages of the data flow, and imports only flow downstream.

Stages, in order; a module may import its own stage and earlier ones, never a later one, and no
import cycle is allowed anywhere (imports inside functions count too).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cdae_lite"
STAGES = ["runtime", "distributed", "images", "io", "metrics", "plot", "simulation", "denoise", "cluster", "paper", "exercises",
          "cli"]
MAX_LINES = 400
MAX_COMMAND_LINES = 80
MAX_FUNCTION_LINES = 80


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: {package modules it imports}}`` for every module under ``root``."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        deps = set()
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".")[: len(mod.split(".")) - node.level + (1 if is_pkg else 0)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [f"{target}.{a.name}" for a in node.names]
                deps |= {n for n in names if n in files} or ({target} if target in files else set())
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in files}
        graph[mod] = deps - {mod}
    return graph


def stage(mod: str, root_name: str) -> int | None:
    parts = mod.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def upstream_violations(graph: dict[str, set[str]], root_name: str) -> list[str]:
    out = []
    for mod, deps in graph.items():
        s = stage(mod, root_name)
        for d in deps:
            t = stage(d, root_name)
            if s is not None and t is not None and t > s:
                out.append(f"{mod} imports {d}, a later stage")
    return sorted(out)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycle_and_no_upstream_import():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and any(graph.values())  # the scan found the modules and their imports
    assert cycles(graph) == []
    assert upstream_violations(graph, "cdae_lite") == []


def test_every_module_is_small_and_every_command_thin():
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {f: n for f, n in sizes.items() if n > MAX_LINES} == {}
    shared = ("cli/__init__.py", "cli/__main__.py", "cli/common.py")  # not commands
    commands = {f: n for f, n in sizes.items() if f.startswith("cli/") and f not in shared}
    assert len(commands) >= 5 and {f: n for f, n in commands.items() if n > MAX_COMMAND_LINES} == {}


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``{"file:function": lines}`` for the functions and methods of ``root`` longer than ``limit`` lines
    (from ``def`` to the last line, docstring included)."""
    out = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    out[f"{path.relative_to(root).as_posix()}:{node.name}"] = lines
    return dict(sorted(out.items()))


def test_no_function_is_longer_than_80_lines():
    long = long_functions(PACKAGE)
    assert long == {}, f"split these functions (one job each, at most {MAX_FUNCTION_LINES} lines): {long}"


def test_every_top_level_folder_is_a_stage():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert folders | modules <= set(STAGES)


@pytest.fixture
def toy(tmp_path):
    """A tiny package with an upstream import (simulation -> denoise) and a cycle (a <-> b)."""
    root = tmp_path / "cdae_lite"
    for rel, text in {"__init__.py": "", "simulation/__init__.py": "", "denoise/__init__.py": "",
                      "simulation/a.py": "def f():\n    from cdae_lite.denoise import b\n",
                      "denoise/b.py": "from cdae_lite.denoise.c import x\n",
                      "denoise/c.py": "from . import b\nx = 1\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_length_check_finds_a_long_method(toy):
    body = "".join(f"        x = {i}\n" for i in range(80))
    (toy / "denoise" / "long.py").write_text(f"class A:\n    def f(self):\n{body}\n\ndef g():\n    pass\n")
    assert long_functions(toy) == {"denoise/long.py:f": 81}


def test_the_checks_find_an_upstream_import_and_a_cycle(toy):
    graph = import_graph(toy)
    assert graph["cdae_lite.simulation.a"] == {"cdae_lite.denoise.b"}  # an import inside a function counts
    assert upstream_violations(graph, "cdae_lite") == [
        "cdae_lite.simulation.a imports cdae_lite.denoise.b, a later stage"]
    assert cycles(graph) == [["cdae_lite.denoise.b", "cdae_lite.denoise.c"]]


def test_every_module_has_a_place_in_the_api_reference():
    pages = "\n".join(p.read_text() for p in (PACKAGE.parent / "book" / "api").glob("*.md"))
    modules = {module_name(p, PACKAGE) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py"}
    missing = sorted(m for m in modules if f"automodule:: {m}\n" not in pages)
    assert missing == [], f"add these modules to a page of book/api/: {missing}"


TESTS = PACKAGE.parent / "tests"
TESTED_STAGES = ["runtime", "distributed", "images", "io", "metrics", "plot", "simulation", "denoise", "cluster"]
# library modules with no test file of their own, each with where it is tested
TESTED_THROUGH_USERS = {
    "io/blocks.py": "block-by-block reading, private to the streaming commands: tests/test_cluster_stream.py (never "
                    "more than a block read), tests/test_cli_workflow.py (a .gz stack denoised)",
    "io/files.py": "safe writing, used by every writer: tests/test_mrc.py (no temporary file left, an output that "
                   "appears while writing), tests/test_denoise_relion.py (a failure midway leaves nothing)",
    "io/paths.py": "where data live: every test that reads data/ (tests/test_proteins.py, tests/test_io_relion.py)",
    "io/relion_out.py": "what a run on a RELION STAR file writes: tests/test_denoise_relion.py",
    "io/relion_stack.py": "a STAR file's images for cdae-lite cluster: tests/test_denoise_relion.py, "
                          "tests/test_ml2d.py",
    "simulation/plan.py": "the draws of simulation/stacks.py, made up front: tests/test_simulation_stacks.py",
    "denoise/loop.py": "the training loop of denoise/train.py and denoise/synthetic.py: tests/test_train.py, "
                       "tests/test_synthetic.py, tests/test_distributed.py",
    "denoise/stream.py": "denoising a stack block by block, behind cdae-lite denoise: tests/test_cli_workflow.py, "
                         "tests/test_distributed.py, tests/test_robustness.py, tests/test_denoise_relion.py",
    "cluster/fourier.py": "private correlations of cluster/ml2d.py and cluster/ceiling.py: tests/test_ml2d.py, "
                          "tests/test_ceiling.py",
    "cluster/em2d.py": "the private EM steps of cluster/ml2d.py: tests/test_ml2d.py (the M-step's noise count, "
                       "divergence, every run of ml2d_classify)",
}
# test files that check many modules at once, named for what they check
CROSS_CUTTING = {
    "bad_inputs": "bad inputs across every command", "book": "the book's build", "book_text": "the book's text",
    "cli_workflow": "the command line end to end", "colab": "chapters in a blank Colab",
    "docstrings": "numpydoc docstrings of the whole library", "glossary": "the book's glossary",
    "launch": "the repository's address in every launcher", "layout": "the package's shape",
    "packaging": "pip's and conda's dependency lists", "platform": "platform and licence claims",
    "recorded_grids": "recorded optima inside their grids", "robustness": "bad inputs to the command line",
    "smoke": "the full profile's code paths", "experiments": "the paper's experiments (cdae_lite.paper)",
    "cli": "the command line (cdae_lite.cli)", "exercises": "the book's exercises (cdae_lite.exercises)",
}


def names_for_tests(rel: str, shared: set[str]) -> set[str]:
    """The names ``rel`` (a module's path under the package) may be tested under."""
    parts = Path(rel).with_suffix("").parts
    names = {"_".join(parts[-2:])} if len(parts) > 1 else set()
    return names if parts[-1] in shared else names | {parts[-1]}


def test_every_library_module_has_a_test_file_named_after_it():
    """One test file per library module: ``tests/test_<module>.py``, or ``tests/test_<subpackage>_<module>.py``
    where two library modules share a name (``cluster/stream.py`` and ``denoise/stream.py`` would be
    ``test_cluster_stream`` and ``test_denoise_stream``). The exceptions: the modules of ``TESTED_THROUGH_USERS``
    (each with where it is tested), and test files that check many modules at once (``CROSS_CUTTING``). The paper
    (``cdae_lite/paper``), the command line (``cdae_lite/cli``) and the exercises (``cdae_lite/exercises``) may keep
    grouped test files (``test_experiments.py``, ``test_cli.py``, ``test_exercises.py``) beside ones named after
    their modules."""
    library = sorted(p.relative_to(PACKAGE).as_posix() for s in TESTED_STAGES
                     for p in ([PACKAGE / f"{s}.py"] if (PACKAGE / f"{s}.py").exists() else (PACKAGE / s).rglob("*.py"))
                     if p.name != "__init__.py")
    assert len(library) > 40 and set(TESTED_THROUGH_USERS) <= set(library)
    stems = [Path(m).stem for m in library]
    shared = {s for s in stems if stems.count(s) > 1}
    tests = {p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py")}
    missing = [m for m in library if m not in TESTED_THROUGH_USERS and not names_for_tests(m, shared) & tests]
    assert missing == [], f"add tests/test_<module>.py for these modules (or list where they are tested): {missing}"
    have_own = [m for m in TESTED_THROUGH_USERS if names_for_tests(m, shared) & tests]
    assert have_own == [], f"these modules have their own test file now; take them off the exceptions: {have_own}"

    everything = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    named = set().union(*(names_for_tests(m, shared) for m in everything))
    stray = sorted(t for t in tests if t not in named and t not in CROSS_CUTTING)
    assert stray == [], f"name these test files after the module they test, or list them as cross-cutting: {stray}"
