"""The rank-to-GPU map, checked by its structure (matplotlib artists and their gids), not pixels."""

import copy

import pytest

pytest.importorskip("matplotlib")

import simdist.plot  # noqa: E402
from simdist import ConfigError, LaunchSpec, make_plan  # noqa: E402


def plan(**launch) -> dict:
    return make_plan(LaunchSpec(**launch)).to_dict()


def by_gid(fig) -> dict:
    """Every artist of the figure that has a gid, by gid (gids are unique in a rank map)."""
    found: dict = {}
    for artist in fig.findobj(lambda a: bool(a.get_gid())):
        assert artist.get_gid() not in found, f"duplicate gid {artist.get_gid()}"
        found[artist.get_gid()] = artist
    return found


def with_prefix(artists: dict, prefix: str) -> list[str]:
    return sorted(g for g in artists if g.startswith(prefix))


def worker_ids(artists: dict) -> list[int]:
    return sorted(int(g.split("-")[1]) for g in artists if g.count("-") == 1 and g.startswith("worker-"))


def worker_text(artists: dict, rank: int) -> tuple[str, str, str]:
    return tuple(artists[f"worker-{rank}-{part}"].get_text() for part in ("rank", "local-rank", "gpu"))


def joined(artists: dict, gid: str) -> str:
    """The text of a wrapped block: its lines carry gids ``gid``, ``gid-1``, ``gid-2``…"""
    lines, i = [artists[gid].get_text()], 1
    while f"{gid}-{i}" in artists:
        lines.append(artists[f"{gid}-{i}"].get_text())
        i += 1
    return " ".join(lines)


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_two_by_two_has_a_box_per_node_and_a_labelled_patch_per_worker():
    artists = by_gid(simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=2, master_addr="10.0.0.1", master_port=29500)))
    assert [g for g in with_prefix(artists, "node-") if "title" not in g] == ["node-0", "node-1"]
    assert worker_ids(artists) == [0, 1, 2, 3]
    for rank, (local, gpu) in enumerate([(0, 0), (1, 1), (0, 0), (1, 1)]):
        assert worker_text(artists, rank) == (f"RANK {rank}", f"LOCAL_RANK {local}", f"GPU {gpu}")
        assert artists[f"worker-{rank}"].get_label() == f"RANK {rank}\nLOCAL_RANK {local}\nGPU {gpu}"
    assert not with_prefix(artists, "gpu-idle-")
    assert not with_prefix(artists, "mismatch-")


def test_each_node_has_its_own_colour_and_its_workers_share_it():
    artists = by_gid(simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=2, master_port=29500)))
    edge = {g: tuple(artists[g].get_edgecolor()) for g in ("node-0", "node-1", "worker-0", "worker-1", "worker-2")}
    assert edge["node-0"] != edge["node-1"]
    assert edge["worker-0"] == edge["worker-1"] == edge["node-0"]
    assert edge["worker-2"] == edge["node-1"]


def test_node_title_names_node_rank_group_rank_host_and_the_store():
    spec = dict(nnodes=2, nproc_per_node=2, master_addr="192.168.5.228", master_port=29400,
                hosts=["192.168.5.228", "192.168.5.229"])
    fig = simdist.plot.rank_map(plan(**spec))
    titles = [" ".join(t.get_text() for t in fig.findobj(lambda a: (a.get_gid() or "").startswith(f"node-{n}-title")))
              for n in (0, 1)]
    assert "node_rank 0" in titles[0] and "group rank 0" in titles[0]
    assert "192.168.5.228" in titles[0] and "store" in titles[0]
    assert "192.168.5.229" in titles[1] and "store" not in titles[1]


def test_rank_formula_caption_uses_the_launchs_numbers():
    homogeneous = joined(by_gid(simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=2, master_port=29500))),
                         "rank-map-caption")
    assert homogeneous.startswith("RANK = GROUP_RANK × 2 + LOCAL_RANK")
    assert "RANK 3 = 1 × 2 + 1" in homogeneous
    hetero = joined(by_gid(simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=[1, 3], master_port=29500))),
                    "rank-map-caption")
    assert "Σ nproc" in hetero and "RANK 3 = (1) + 2" in hetero


def test_heterogeneous_nodes_draw_their_own_workers_and_grey_idle_gpus():
    fig = simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=[1, 3], gpus_per_node=4, master_port=29500))
    artists = by_gid(fig)
    assert worker_ids(artists) == [0, 1, 2, 3]
    assert worker_text(artists, 0) == ("RANK 0", "LOCAL_RANK 0", "GPU 0")
    assert worker_text(artists, 3) == ("RANK 3", "LOCAL_RANK 2", "GPU 2")
    idle = with_prefix(artists, "gpu-idle-")
    assert idle == ["gpu-idle-0-1", "gpu-idle-0-2", "gpu-idle-0-3", "gpu-idle-1-3"]
    worker_face = artists["worker-0"].get_facecolor()
    for gid in idle:  # grey: red, green and blue equal, unlike any worker's tint
        r, g, b, _ = artists[gid].get_facecolor()
        assert r == g == b and (r, g, b) != tuple(worker_face[:3])
    # The 1-GPU-used node is drawn with all 4 slots, so both boxes hold 4 cells.
    assert artists["node-0"].get_width() == pytest.approx(artists["node-1"].get_width())


def test_cuda_visible_devices_maps_local_ranks_to_physical_gpus():
    fig = simdist.plot.rank_map(plan(nproc_per_node=2, gpus_per_node=4, visible_devices="2,3", master_port=29500))
    artists = by_gid(fig)
    assert worker_text(artists, 0)[2] == "GPU 2"
    assert worker_text(artists, 1)[2] == "GPU 3"
    assert with_prefix(artists, "gpu-hidden-") == ["gpu-hidden-0-0", "gpu-hidden-0-1"]
    assert any("CUDA_VISIBLE_DEVICES=2,3" in t for t in texts(fig))


def test_a_local_rank_without_a_gpu_is_a_red_no_gpu_slot():
    fig = simdist.plot.rank_map(plan(nproc_per_node=3, gpus_per_node=2, master_port=29500))
    artists = by_gid(fig)
    assert worker_text(artists, 2) == ("RANK 2", "LOCAL_RANK 2", "no GPU")
    r, g, b, _ = artists["worker-2"].get_edgecolor()
    assert r > 0.7 and g < 0.3 and b < 0.3
    assert "rank-map-legend-no_gpu" in artists
    assert any("invalid device ordinal" in t for t in texts(fig))  # the plan's warning is shown


def test_large_clusters_elide_nodes_in_the_middle():
    artists = by_gid(simdist.plot.rank_map(plan(nnodes=16, nproc_per_node=8, master_port=29500)))
    nodes = [g for g in artists if g.startswith("node-") and g.count("-") == 1]
    assert sorted(nodes, key=lambda g: int(g[5:])) == ["node-0", "node-1", "node-2", "node-3", "node-14", "node-15"]
    assert len(worker_ids(artists)) == 6 * 8
    assert with_prefix(artists, "elided-nodes") == ["elided-nodes-0"]
    assert worker_ids(artists)[-1] == 127


def test_very_wide_nodes_elide_gpus():
    artists = by_gid(simdist.plot.rank_map(plan(nproc_per_node=24, master_port=29500)))
    assert "elided-gpus-0" in artists
    assert len(worker_ids(artists)) == 15
    assert worker_ids(artists)[0] == 0 and worker_ids(artists)[-1] == 23


def test_a_trace_draws_the_plan_its_rendezvous_decided():
    trace = {"schema": "simdist.trace/1", "seed": 3, "events": [], "outcome": "ok", "diagnosis": "",
             "plan": plan(nnodes=2, nproc_per_node=1, master_port=29500)}
    artists = by_gid(simdist.plot.rank_map(trace))
    assert worker_ids(artists) == [0, 1]
    assert "seed 3" in joined(artists, "rank-map-title")


def test_a_trace_without_a_plan_has_no_rank_map():
    trace = {"schema": "simdist.trace/1", "events": [], "plan": None, "outcome": "rendezvous_timeout"}
    with pytest.raises(ConfigError, match="no plan"):
        simdist.plot.rank_map(trace)


def test_rank_map_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    assert simdist.plot.rank_map(plan(nnodes=2, nproc_per_node=2, master_port=29500), ax=ax) is fig
    assert worker_ids(by_gid(fig)) == [0, 1, 2, 3]


def test_foreign_documents_are_refused():
    with pytest.raises(ConfigError, match="not a simdist plan, trace or report"):
        simdist.plot.rank_map({"schema": "something/1"})
    with pytest.raises(ConfigError, match="malformed"):
        simdist.plot.rank_map({"schema": "simdist.plan/1", "nodes": []})


# -- reports: observed placement ------------------------------------------------------------------


def report(predicted: dict, backend: str = "nccl") -> dict:
    """A real-mode report that matches ``predicted`` exactly (the contract's shape)."""
    by_node = {n["node_rank"]: n for n in predicted["nodes"]}
    workers = []
    for w in predicted["workers"]:
        visible = by_node[w["node_rank"]]["visible_devices"]
        device = ({"type": "cuda", "index": w["local_rank"], "name": "H100", "cuda_visible_devices": visible}
                  if backend == "nccl" else {"type": "cpu", "index": None, "name": None, "cuda_visible_devices": None})
        workers.append({"rank": w["rank"], "local_rank": w["local_rank"], "group_rank": w["group_rank"],
                        "node_rank": w["node_rank"], "env": w["env"], "hostname": f"host{w['node_rank']}",
                        "pid": 100 + w["rank"], "device": device, "result": None})
    return {"schema": "simdist.report/1", "launch": predicted["launch"], "backend": backend,
            "torch_version": "2.13.0", "plan": predicted, "workers": workers,
            "comparison": {"matches": True, "differences": []}}


def differing(doc: dict, rank: int, field: str, predicted, observed) -> dict:
    doc = copy.deepcopy(doc)
    doc["comparison"] = {"matches": False, "differences": [
        {"rank": rank, "field": field, "predicted": predicted, "observed": observed}]}
    return doc


def test_a_matching_report_draws_the_observed_placement_without_marks():
    artists = by_gid(simdist.plot.rank_map(report(plan(nnodes=2, nproc_per_node=2, master_port=29500))))
    assert worker_ids(artists) == [0, 1, 2, 3]
    assert worker_text(artists, 3) == ("RANK 3", "LOCAL_RANK 1", "GPU 1")
    assert not with_prefix(artists, "mismatch-")
    assert "matches the prediction" in joined(artists, "rank-map-title")


def test_every_difference_from_the_prediction_is_marked():
    doc = report(plan(nnodes=2, nproc_per_node=2, master_port=29500))
    doc["workers"][3]["device"]["index"] = 0  # rank 3 called set_device(0)
    fig = simdist.plot.rank_map(differing(doc, 3, "gpu", 1, 0))
    artists = by_gid(fig)
    assert with_prefix(artists, "mismatch-") == ["mismatch-3"]
    assert worker_text(artists, 3)[2] == "GPU 0"
    assert "rank-map-legend-mismatch" in artists
    assert any("RANK 3: gpu predicted 1, observed 0" in t for t in texts(fig))
    assert "1 difference" in joined(artists, "rank-map-title")
    # Two workers on GPU 0 of node 1 now; its GPU 1 sits idle.
    assert "gpu-idle-1-1" in artists


def test_a_difference_hidden_in_the_elided_middle_still_shows():
    doc = report(plan(nnodes=16, nproc_per_node=8, master_port=29500))
    artists = by_gid(simdist.plot.rank_map(differing(doc, 77, "env.MASTER_PORT", "29500", "29501")))
    assert "mismatch-77" in artists
    assert "node-9" in artists


def test_observed_gpu_goes_through_cuda_visible_devices():
    predicted = plan(nproc_per_node=2, gpus_per_node=4, visible_devices="2,3", master_port=29500)
    artists = by_gid(simdist.plot.rank_map(report(predicted)))
    assert [worker_text(artists, r)[2] for r in (0, 1)] == ["GPU 2", "GPU 3"]


def test_cpu_runs_show_the_predicted_slot_marked_cpu():
    artists = by_gid(simdist.plot.rank_map(report(plan(nnodes=2, nproc_per_node=2, master_port=29500), "gloo")))
    assert worker_text(artists, 2)[2] == "cpu · GPU 0"
    assert artists["worker-2"].get_hatch()
    assert "rank-map-legend-cpu" in artists


def test_a_worker_that_never_reported_is_drawn_missing_and_marked():
    doc = report(plan(nnodes=2, nproc_per_node=2, master_port=29500))
    del doc["workers"][2]
    artists = by_gid(simdist.plot.rank_map(differing(doc, 2, "present", True, False)))
    assert worker_text(artists, 2)[2] == "missing"
    assert "mismatch-2" in artists


def test_a_title_sized_to_its_box_is_not_cut_by_a_rounding_error():
    import math

    from simdist.plot import _style as st

    text = "node_rank 0 · group rank 0 · vm"
    width = st.text_width(text, st.BODY_SIZE, "bold")
    assert st.fit(text, math.nextafter(width, 0), st.BODY_SIZE, "bold") == text  # (w + pad) − pad may be a hair short
    assert st.fit(text, width / 2, st.BODY_SIZE, "bold").endswith("…")
