"""The public surface is exactly what __all__ says, every name in it resolves, and reprs show public paths."""

import subprocess
import sys

import pytest

import simdist


def test_every_public_name_resolves():
    for name in simdist.__all__:
        assert getattr(simdist, name) is not None, name


def test_all_lists_the_public_names_and_nothing_else():
    public = {n for n in dir(simdist) if not n.startswith("_")}
    assert public - set(simdist._SUBPACKAGES) == set(simdist.__all__)


def test_the_module_namespace_holds_no_stray_public_name():
    """What `from simdist import *` and tab completion see: __all__ and the subpackages, nothing else."""
    code = "import simdist\nfor n in simdist.__all__: getattr(simdist, n)\nprint(' '.join(sorted(n for n in vars(simdist) if not n.startswith('_'))))"
    names = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert names - set(simdist._SUBPACKAGES) == set(simdist.__all__)


@pytest.mark.parametrize("name", sorted(simdist.__all__))
def test_public_objects_show_their_public_path(name):
    obj = getattr(simdist, name)
    assert obj.__module__ == "simdist", f"{name} claims to live in {obj.__module__}"


@pytest.mark.parametrize("package", ["documents", "launch", "sim", "real"])
def test_each_layer_lists_exactly_the_names_it_offers(package):
    import importlib

    module = importlib.import_module(f"simdist.{package}")
    offered = {n for n in dir(module) if not n.startswith("_") and type(getattr(module, n)).__name__ != "module"}
    assert set(module.__all__) == offered


def test_simulate_is_public_and_runs():
    trace = simdist.simulate(simdist.LaunchSpec(nnodes=2, nproc_per_node=1, master_port=29500), seed=3)
    assert isinstance(trace, simdist.Trace) and trace.outcome == "ok"
    assert repr(trace.results[0]).startswith("RankResult(")
    assert repr(simdist.Trace).endswith("'simdist.Trace'>")
