"""The architecture diagram, drawn from the import-linter contracts in pyproject.toml.

The layers and their order come from the ``layers`` contract, the modules of each
layer from the package tree, so the picture shows what the tests enforce and cannot
drift from it. ``make_figures.py`` saves it as ``architecture.svg``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "simdist"
FONT = "DejaVu Sans"
INK, MUTED = "#222222", "#666666"
# What each layer is for and what it may use, in a few words (the contracts say the rest).
ROLES = {
    "__main__": "python -m simdist",
    "cli": "the command line: Typer + rich",
    "testing": "Hypothesis strategies, state machines",
    "plot": "pictures: matplotlib",
    "real": "real torchrun (the launcher never imports torch)",
    "program": "what runs on a rank; simulate()",
    "collectives": "collectives over torch tensors",
    "sim": "the launch on a virtual clock · stdlib only",
    "launch": "LaunchSpec → Plan: torch 2.13's rule book · stdlib only",
    "documents": "typed PlanDocument, Trace, Report · stdlib only",
    "_errors": "every error, one tree · stdlib only",
}
FILL = {"surface": "#e8f0fa", "torch": "#fdf0dc", "core": "#e6f2e4"}


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def top_layers() -> list[list[str]]:
    """The top-level layers, highest first; siblings that may not import each other share a row."""
    contract = next(c for c in contracts() if c.get("id") == "layers")
    return [[name.strip() for name in row.split("|")] for row in contract["layers"]]


def modules_of(name: str) -> list[str]:
    """The modules of one layer as the package tree holds them (``_errors`` is a single module)."""
    folder = PACKAGE / name
    if not folder.is_dir():
        return []
    files = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    return files + sorted(p.name + "/" for p in folder.iterdir() if (p / "__init__.py").exists())


def kind_of(name: str) -> str:
    if name in ("documents", "launch", "sim", "_errors"):
        return "core"
    if name in ("collectives", "program"):
        return "torch"
    return "surface"


def draw() -> Figure:
    rows = [row for row in top_layers() if row != ["__main__"]]
    width, row_h, gap, margin = 11.0, 0.82, 0.34, 0.3
    height = margin * 2 + 0.55 + len(rows) * row_h + (len(rows) - 1) * gap
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # inches, top-down
    ax.axis("off")
    ax.text(margin, margin + 0.15, "simdist: each layer imports only the layers below it", fontsize=12.5,
            fontweight="bold", family=FONT, color=INK, va="center")  # fmt: skip
    ax.text(margin, margin + 0.42, "enforced by import-linter (pyproject.toml, tests/test_architecture.py); "
            "siblings in one row may not import each other · "
            "green: standard library only, orange: torch, blue: surfaces", fontsize=8.5, family=FONT, color=MUTED, va="center")  # fmt: skip
    y = margin + 0.6
    centres = []
    for row in rows:
        box_w = (width - 2 * margin - 0.2 * (len(row) - 1)) / len(row)
        for i, name in enumerate(row):
            x = margin + i * (box_w + 0.2)
            ax.add_patch(FancyBboxPatch((x, y), box_w, row_h, boxstyle="round,pad=0,rounding_size=0.08",
                                        facecolor=FILL[kind_of(name)], edgecolor="#8a8a8a", linewidth=0.8))  # fmt: skip
            title = f"simdist.{name}" if name != "_errors" else "simdist._errors"
            ax.text(x + 0.14, y + 0.22, title, fontsize=10, fontweight="bold", family=FONT, color=INK, va="center")
            ax.text(x + 0.14, y + 0.44, ROLES.get(name, ""), fontsize=8.5, family=FONT, color=INK, va="center")
            modules = " ".join(modules_of(name))
            limit = int(box_w * 15)  # about 15 characters an inch at this size
            shown = modules if len(modules) <= limit else modules[: limit - 1].rsplit(" ", 1)[0] + " …"
            ax.text(x + 0.14, y + 0.65, shown, fontsize=7.5, family="DejaVu Sans Mono", color=MUTED, va="center")
        centres.append(y)
        y += row_h + gap
    for upper, lower in zip(centres, centres[1:], strict=False):
        ax.add_patch(FancyArrowPatch((width / 2, upper + row_h + 0.03), (width / 2, lower - 0.03),
                                     arrowstyle="-|>", mutation_scale=10, color=MUTED, linewidth=1))  # fmt: skip
    return fig
