"""The α-β fit: it recovers the model's α and β from the points the model generates, noise and all,
and a profile prices a simulated collective exactly as its fit says."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simdist import LaunchSpec, ScenarioOptions, simulate
from simdist.collectives._fit import FitPoint, coefficients, fit_segments, predict_segments, relative_residual
from simdist.collectives._profile import CALIBRATED_OPS, MODEL_ALGORITHM
from tests.profile_helpers import synthetic_profile

OPS = st.sampled_from(CALIBRATED_OPS)
RANKS = st.integers(2, 16)
ALPHAS = st.floats(1e-6, 1e-3)
BANDWIDTHS = st.floats(1e8, 1e11)  # bytes per second: 0.1 to 100 GB/s


def _points(op: str, n: int, alpha: float, beta: float, noise: list[float]) -> list[FitPoint]:
    """Sizes from a thousandth to a thousand times the size where α and β cost the same: both matter."""
    algorithm = MODEL_ALGORITHM[op]
    k_alpha, k_beta = coefficients(op, algorithm, n, 2**20)
    crossover = max(1.0, (k_alpha * alpha) / (k_beta / 2**20 * beta))
    sizes = sorted({max(1, round(crossover * 10 ** (e / 2))) for e in range(-6, 7)})
    points = []
    for i, size in enumerate(sizes):
        ka, kb = coefficients(op, algorithm, n, size)
        points.append(FitPoint(size, ka, kb, (ka * alpha + kb * beta) * (1 + noise[i % len(noise)])))
    return points


@given(op=OPS, n=RANKS, alpha=ALPHAS, bandwidth=BANDWIDTHS)
def test_the_fit_recovers_alpha_and_beta_exactly_from_exact_points(op, n, alpha, bandwidth):
    segments = fit_segments(_points(op, n, alpha, 1 / bandwidth, [0.0]))
    assert len(segments) == 1
    assert math.isclose(segments[0].alpha, alpha, rel_tol=1e-6)
    assert math.isclose(segments[0].beta, 1 / bandwidth, rel_tol=1e-6)


@settings(max_examples=200)
@given(op=OPS, n=RANKS, alpha=ALPHAS, bandwidth=BANDWIDTHS,
       noise=st.lists(st.floats(-0.05, 0.05), min_size=13, max_size=13))  # fmt: skip
def test_the_fit_recovers_alpha_and_beta_from_noisy_points(op, n, alpha, bandwidth, noise):
    """±5 % noise on every point moves neither α nor β by more than 20 %, and never splits the line."""
    points = _points(op, n, alpha, 1 / bandwidth, noise)
    segments = fit_segments(points)
    assert len(segments) == 1
    assert abs(segments[0].alpha / alpha - 1) <= 0.2
    assert abs(segments[0].beta * bandwidth - 1) <= 0.2
    worst = max(abs(relative_residual(predict_segments(segments, p.k_alpha, p.k_beta, p.nbytes), p.time))
                for p in points)  # fmt: skip
    assert worst <= 0.12


def test_one_spoiled_point_does_not_drag_the_line():
    points = _points("all_reduce", 2, 300e-6, 1e-9, [0.0])
    spoiled = [FitPoint(p.nbytes, p.k_alpha, p.k_beta, p.time * (5 if i == 3 else 1)) for i, p in enumerate(points)]
    (segment,) = fit_segments(spoiled)
    assert abs(segment.alpha / 300e-6 - 1) < 0.1 and abs(segment.beta / 1e-9 - 1) < 0.1


def test_a_change_of_regime_gets_its_own_segment():
    """Above 1 MiB the bandwidth halves (a buffer that no longer fits in cache): two segments, each exact."""
    points = []
    for k in range(3, 26):
        size = 2**k
        ka, kb = coefficients("all_reduce", "ring", 2, size)
        beta = 1e-9 if size <= 2**20 else 2e-9
        points.append(FitPoint(size, ka, kb, ka * 200e-6 + kb * beta))
    segments = fit_segments(points)
    assert len(segments) == 2
    assert segments[0].max_bytes == 2**20 and segments[1].min_bytes == 2**21
    assert math.isclose(segments[0].beta, 1e-9, rel_tol=1e-6) and math.isclose(segments[1].beta, 2e-9, rel_tol=1e-6)
    assert all(abs(relative_residual(predict_segments(segments, p.k_alpha, p.k_beta, p.nbytes), p.time)) < 1e-6
               for p in points)  # fmt: skip


def test_the_same_points_give_the_same_fit_in_any_order():
    points = _points("all_gather", 4, 50e-6, 1e-10, [0.03, -0.02, 0.01, -0.04])
    assert fit_segments(points) == fit_segments(list(reversed(points)))


def test_bad_points_are_refused():
    with pytest.raises(ValueError):
        fit_segments([])
    with pytest.raises(ValueError):
        fit_segments([FitPoint(8, 2.0, 8.0, 0.0)])


@pytest.mark.parametrize("op", CALIBRATED_OPS)
@pytest.mark.parametrize("nproc", [2, 4])
def test_a_profile_prices_a_simulated_collective_as_its_fit_says(op, nproc, tmp_path):
    """The simulator's time for a collective is the profile's prediction, to the nanosecond."""
    profile = synthetic_profile(ops=CALIBRATED_OPS, ranks=nproc)
    scenario = tmp_path / "one.py"
    calls = {
        "all_reduce": "dist.all_reduce(torch.zeros(4096))",
        "all_gather": "dist.all_gather_into_tensor(torch.zeros(4096 * n), torch.zeros(4096))",
        "reduce_scatter": "dist.reduce_scatter_tensor(torch.zeros(4096), torch.zeros(4096 * n))",
        "broadcast": "dist.broadcast(torch.zeros(4096), src=0)",
        "all_to_all": "dist.all_to_all_single(torch.zeros(4096 * n), torch.zeros(4096 * n))",
    }
    scenario.write_text(f"import torch\n\ndef one(dist):\n    n = dist.get_world_size()\n    {calls[op]}\n")
    trace = simulate(LaunchSpec(nproc_per_node=nproc), seed=1, scenario=f"{scenario}:one",
                     scenario_options=ScenarioOptions(profile=profile, trace_steps=False))  # fmt: skip
    (event,) = trace.of_kind("collective")
    nbytes = event.detail["bytes"]
    expected = profile.predict(op, nbytes, nproc)
    assert math.isclose(event.detail["end"] - event.detail["start"], expected, rel_tol=1e-6, abs_tol=2e-9)
    assert trace.to_dict()["cost_model"]["profile"] == "synthetic"
