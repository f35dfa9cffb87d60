"""The public surface is exactly what __all__ says, and every name in it resolves."""

import simdist


def test_every_public_name_resolves():
    for name in simdist.__all__:
        assert getattr(simdist, name) is not None, name


def test_all_lists_the_public_names_and_nothing_else():
    public = {n for n in dir(simdist) if not n.startswith("_")} - {"plot", "real", "testing", "cli", "scenarios", "annotations"}
    modules = {n for n in public if type(getattr(simdist, n)).__name__ == "module"}
    assert set(simdist.__all__) == public - modules


def test_simulate_is_public_and_runs():
    trace = simdist.simulate(simdist.LaunchSpec(nnodes=2, nproc_per_node=1, master_port=29500), seed=3)
    assert isinstance(trace, simdist.Trace) and trace.outcome == "ok"
