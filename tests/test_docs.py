"""The documentation stays true: every cross-reference in a docstring names something that exists, every code
block of the README and docs/ runs on the bundled example, and the committed CLI reference is the one argparse
gives today.

Code blocks: a fenced block whose info string is ``bash`` or ``python`` runs (bash with ``set -e`` in a temporary
folder laid out as a checkout: ``photo.jpg``, a copy of ``examples/synthetic_landscape.png``, ``examples/``, links to
``src/`` and ``experiments/``, and ``../shared`` when there is one); a second word
says why it may not run here: ``needs-shared`` (the data or weights in ../shared: run when ../shared exists),
``slow`` (minutes or more: training, evaluations of the shared data; skipped, with the reason), ``long`` (half a
minute to two at toy scale: skipped by the suite, which stays within ~10 minutes, and run by CI's second step,
``CINESCAPE_DOC_BLOCKS=all``), ``no-run`` (a fragment or a long-running server). Any other info string (``text``, none) is not code.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "cinescape"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT.parent / "shared"

ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj|exc):`~?(cinescape(?:\.\w+)+)`")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)
MARKS = ("needs-shared", "slow", "long", "no-run")
#: ``CINESCAPE_DOC_BLOCKS=all`` runs the blocks marked ``long`` too (CI's second step, .ci/run).
RUN_LONG = os.environ.get("CINESCAPE_DOC_BLOCKS") == "all"


def _resolves(dotted: str) -> bool:
    """Whether ``cinescape.a.b.C.d`` names a module, or an attribute reachable from the longest importable
    module prefix (a dataclass field counts as an attribute of its class)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            fields = getattr(target, "__dataclass_fields__", {})
            if name in fields:
                return name == parts[-1]
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_the_resolver_tells_dead_references():
    assert _resolves("cinescape.methods.al.CinemagraphPipeline.plan")
    assert _resolves("cinescape.methods.al.AnimationSettings.loop")
    assert _resolves("cinescape.methods.base")
    assert not _resolves("cinescape.appearance_lstm")
    assert not _resolves("cinescape.methods.al.CinemagraphPipeline.no_such_method")


def test_no_dead_cross_reference_in_docstrings():
    dead = [(str(path.relative_to(ROOT)), name) for path in sorted(SOURCE.rglob("*.py"))
            for name in ROLE.findall(path.read_text()) if not _resolves(name)]
    assert dead == [], f"docstring references to nothing: {dead}"


def _blocks() -> list[tuple[str, int, str, str]]:
    """(file, line, info string, code) of every fenced block of the README and docs/."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((str(path.relative_to(ROOT)), line, match.group(1).strip(), match.group(2)))
    return found


CODE_BLOCKS = [block for block in _blocks() if block[2].split()[:1] in (["bash"], ["python"])]


def test_code_blocks_are_found_and_marked_with_known_words():
    assert any(file == "README.md" for file, *_ in CODE_BLOCKS)
    unknown = [(file, line, info) for file, line, info, _ in CODE_BLOCKS if not set(info.split()[1:]) <= set(MARKS)]
    assert unknown == [], f"code blocks with info strings the test does not know: {unknown}"


def test_every_python_block_compiles_and_its_imports_exist():
    """Also the blocks marked slow or needs-shared, which do not run here: their syntax and imports are checked."""
    for file, line, info, code in CODE_BLOCKS:
        if info.split()[0] != "python":
            continue
        compile(code, f"{file}:{line}", "exec")
        imports = [statement for statement in code.splitlines() if re.match(r"(from cinescape[\w.]* )?import ", statement)]
        exec("\n".join(imports), {})


# The blocks outside docs/results.md that CI does not run, by page and first command, each for its reason: the
# records of full-scale runs and reproductions of measured figures (minutes to hours, the shared data), a CUDA
# command, the time-of-day labelling (~17 s of CPU before the first frame), a server. Every other block runs.
NOT_RUN = {
    "docs/guide.md": ["cinescape animate photo.jpg -o tod.mp4", "pip install torch==2.13.0 -e \".[web]\"",
                      "CINESCAPE_WEIGHTS=../shared/weights cinescape train fgla",
                      "CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_fgla_references.py"],
    "docs/training.md": ["python experiments/measure_motion.py", "CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_latent_prior.py",
                         "export CINESCAPE_WEIGHTS=../shared/weights S=", "python -m cinescape.methods.deeplandscape.data"],
    "docs/deeplandscape.md": ["python -m cinescape.methods.deeplandscape.data", "python -m cinescape.methods.deeplandscape.data",
                              "export CINESCAPE_WEIGHTS=../shared/weights"],
}


def test_only_the_listed_blocks_outside_the_results_do_not_run():
    skipped: dict[str, list[str]] = {}
    for file, _, info, code in CODE_BLOCKS:
        if file != "docs/results.md" and ({"slow", "no-run"} & set(info.split()[1:])):
            skipped.setdefault(file, []).append(code.lstrip())
    for file in set(skipped) | set(NOT_RUN):
        firsts = skipped.get(file, [])
        assert len(firsts) == len(NOT_RUN.get(file, [])) and all(
            code.startswith(first) for code, first in zip(firsts, NOT_RUN.get(file, []))), \
            f"{file}: blocks that do not run changed: {[code.splitlines()[0] for code in firsts]}"


@pytest.mark.parametrize("file, line, info, code", CODE_BLOCKS, ids=[f"{f}:{n}" for f, n, *_ in CODE_BLOCKS])
def test_code_block_runs(file, line, info, code, tmp_path):
    language, *marks = info.split()
    if "no-run" in marks:
        pytest.skip(f"{file}:{line} is marked no-run (a fragment or a server)")
    if "slow" in marks:
        pytest.skip(f"{file}:{line} is marked slow (minutes or more)")
    if "long" in marks and not RUN_LONG:
        pytest.skip(f"{file}:{line} is marked long (CI runs it: CINESCAPE_DOC_BLOCKS=all)")
    if "needs-shared" in marks and not SHARED.is_dir():
        pytest.skip(f"{file}:{line} needs ../shared, which is not here")
    if "pip install" in code:   # the set-up commands: this environment is that set-up
        pytest.skip(f"{file}:{line} installs the package (what this test run already is)")
    work = tmp_path / "work"      # laid out as a checkout: ../shared beside it, src/ and experiments/ in it
    work.mkdir()
    from PIL import Image

    Image.open(ROOT / "examples" / "synthetic_landscape.png").convert("RGB").save(work / "photo.jpg", quality=95)
    shutil.copytree(ROOT / "examples", work / "examples")
    for name in ("src", "experiments"):
        os.symlink(ROOT / name, work / name)
    if SHARED.is_dir():
        os.symlink(SHARED, tmp_path / "shared")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = ["bash", "-ec", code] if language == "bash" else [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{file}:{line} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def test_the_cli_reference_is_up_to_date():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from cli_reference import render
    finally:
        sys.path.remove(str(ROOT / "docs"))
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render(), "docs/cli.md is out of date: run python docs/cli_reference.py > docs/cli.md"
