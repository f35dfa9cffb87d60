"""figures/: regenerating the tutorials' figures gives the committed bytes."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

FIGURES = Path(__file__).resolve().parent.parent / "figures"
COMMITTED = sorted(FIGURES.glob("*.svg"))


def made_with(svg: bytes) -> str | None:
    match = re.search(rb"Matplotlib v([^,<]+)", svg)
    return match.group(1).decode() if match else None


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    # A fresh interpreter (its own hash seed) and missing glyphs as errors: a figure must
    # neither depend on the process nor draw tofu boxes.
    subprocess.run([sys.executable, "-W", "error::UserWarning", str(FIGURES / "make_figures.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    return out


def test_figures_are_committed():
    assert {p.name for p in COMMITTED} >= {"rank-map-1x1.svg", "rank-map-2x2.svg", "rank-map-hetero-1-3.svg",
                                           "rank-map-16x8.svg", "rank-map-cuda-visible-devices.svg",
                                           "timeline-restart.svg", "ring-allreduce-4.svg"}


def test_regenerating_gives_identical_bytes(regenerated):
    versions = {made_with(p.read_bytes()) for p in COMMITTED}
    if versions != {matplotlib.__version__}:
        pytest.skip(f"figures/ was made with matplotlib {versions}, this is {matplotlib.__version__}: "
                    "run `python figures/make_figures.py` and review the diff")
    assert sorted(p.name for p in regenerated.iterdir()) == [p.name for p in COMMITTED]
    changed = [p.name for p in COMMITTED if (regenerated / p.name).read_bytes() != p.read_bytes()]
    assert not changed, f"regenerate with `python figures/make_figures.py` and review: {changed}"


def test_svg_ids_are_unique(regenerated):
    for path in sorted(regenerated.iterdir()):
        ids = re.findall(rb'\bid="([^"]+)"', path.read_bytes())
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        assert not duplicates, f"{path.name}: duplicate ids {duplicates[:5]}"
