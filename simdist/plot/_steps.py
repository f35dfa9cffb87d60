"""A collective, step by step: which chunk moves where, and what every buffer then holds.

Reads the trace's ``collective_step`` events (one per algorithm step, each with its
``transfers``) and replays them on a model of the buffers: in a reducing phase
the receiver adds what arrives to its chunk, in any other phase it copies it. So a
ring all-reduce shows chunks filling up over the n−1 reduce-scatter steps and then
spreading over the n−1 all-gather steps; a tree shows the same for its edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from .._errors import ConfigError
from ..documents import Trace
from ..documents._elide import Elided, elide
from ..sim._timeline import human_bytes
from . import _style as st
from ._canvas import inch_axes

CHUNK_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f")
MARGIN = 0.3
MAX_WIDTH = 12.0  # inches of panels side by side
PANEL_GAP, PAD = 0.15, 0.12
PANEL_HEAD, HEADER_ROW = 0.5, 0.22  # step number and phase; the rank names
LABEL_W = 0.3  # room for the chunk names left of the buffers
CELL_H = 0.22  # a chunk's row; shrinks for many chunks
LANE = 0.14  # one lane under the buffers per routed transfer
MAX_PHASE_PANELS = 8  # a longer phase shows its first and last steps around "… k steps …"
ELIDE_HEAD, ELIDE_TAIL = 3, 1  # the pattern is clear after three steps; the last shows where it ends
TITLE_LINE, SUB_LINE = 0.3, 0.24
COPY_ROOTED = ("broadcast", "scatter")


def has_steps(trace: Trace) -> bool:
    return any(e.kind == "collective_step" for e in trace.events)


@dataclass(frozen=True, slots=True)
class Transfer:
    """One chunk sent in a step (a ``transfers`` entry of a collective_step event)."""

    src: int
    dst: int
    chunk: int
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    steps: int
    phase: str
    reduce: bool  # receivers combine what arrives with what they hold (else they copy it)
    transfers: tuple[Transfer, ...]
    start: float | None


@dataclass(frozen=True, slots=True)
class Collective:
    op: str
    algorithm: str
    group: str | None
    seq: int | None
    ranks: tuple[int, ...]
    bytes: int | None
    steps: tuple[Step, ...]
    root: int | None


def find_collective(trace: Trace, seq: int | None = None, group: str | None = None) -> Collective:
    """The first collective with step events (or the one numbered ``seq`` in ``group``)."""
    chosen: tuple | None = None
    heads: dict[int, Mapping[str, Any]] = {}  # step index -> its first event's detail
    moves: dict[int, list[Transfer]] = {}  # per-rank step events merge into one step
    for event in trace.of_kind("collective_step"):
        d = event.detail
        key = (d.get("group"), d.get("seq"))
        if (seq is not None and key[1] != seq) or (group is not None and key[0] != group):
            continue
        if chosen is None:
            chosen = key
            first = d
        if key != chosen:
            continue
        index = int(d["step"])
        heads.setdefault(index, d)
        moves.setdefault(index, []).extend(Transfer(t["src"], t["dst"], t["chunk"], t.get("bytes"))
                                           for t in d.get("transfers") or ())  # fmt: skip
    if chosen is None:
        which = "" if seq is None else f" with seq {seq}" + ("" if group is None else f" in group {group!r}")
        raise ConfigError(
            f"the trace has no collective steps{which} to draw; simulate a scenario that calls a collective "
            "(the trace's collective_step events)"
        )
    total = max([len(heads)] + [int(d.get("steps") or 0) for d in heads.values()])
    steps = tuple(Step(i, total, str(heads[i].get("phase") or ""), bool(heads[i].get("reduce")), tuple(moves[i]),
                       heads[i].get("start")) for i in sorted(heads))  # fmt: skip
    call = _call_detail(trace, chosen)
    involved = sorted({rank for s in steps for t in s.transfers for rank in (t.src, t.dst)})
    ranks = list(call.get("ranks") or involved)
    ranks += [r for r in involved if r not in ranks]
    root = call.get("src", call.get("root"))
    if root is None and steps and steps[0].transfers:
        root = steps[0].transfers[0].src
    return Collective(
        op=str(first.get("op") or call.get("op") or "collective"),
        algorithm=str(first.get("algorithm") or call.get("algorithm") or ""),
        group=chosen[0],
        seq=chosen[1],
        ranks=tuple(ranks),
        bytes=call.get("bytes"),
        steps=steps,
        root=root,
    )


def _call_detail(trace: Trace, key: tuple) -> Mapping[str, Any]:
    for event in trace.of_kind("collective"):
        if (event.detail.get("group"), event.detail.get("seq")) == key:
            return event.detail
    return {}


# -- the buffer model ------------------------------------------------------------------------


def replay(collective: Collective) -> tuple[int, list[dict[int, list[frozenset]]], list[frozenset]]:
    """Buffers after each step: ``states[s][rank][chunk]`` = the ranks whose data it holds.

    Returns the chunk count, the states, and per chunk the set that means "complete".
    """
    # The chunks the transfers name (a tree moves the buffer whole: one chunk).
    n_chunks = max([t.chunk + 1 for s in collective.steps for t in s.transfers], default=len(collective.ranks))
    ranks = collective.ranks
    op = collective.op
    if op in COPY_ROOTED:
        root = collective.root
        full = [frozenset({root})] * n_chunks
        state = {r: [frozenset({r}) if r == root else frozenset() for _ in range(n_chunks)] for r in ranks}
    elif op == "all_gather":
        owner = [ranks[c % len(ranks)] for c in range(n_chunks)]
        full = [frozenset({o}) for o in owner]
        state = {r: [frozenset({r}) if owner[c] == r else frozenset() for c in range(n_chunks)] for r in ranks}
    else:  # reductions: every rank starts with its own data in every chunk
        full = [frozenset(ranks)] * n_chunks
        state = {r: [frozenset({r})] * n_chunks for r in ranks}
    states = []
    for step in collective.steps:
        before = {r: list(chunks) for r, chunks in state.items()}
        for t in step.transfers:
            src, dst, c = t.src, t.dst, t.chunk
            incoming = before.get(src, [frozenset()] * n_chunks)[c]
            current = state.setdefault(dst, [frozenset()] * n_chunks)
            current[c] = current[c] | incoming if step.reduce else incoming
        states.append({r: list(chunks) for r, chunks in state.items()})
    return n_chunks, states, full


def _panels(steps: Sequence[Step], columns: int) -> list[list[Step | Elided]]:
    """Rows of panels: one row per run of a phase (wrapped), long phases elided."""
    runs: list[list[Step]] = []
    for step in steps:
        if runs and runs[-1][-1].phase == step.phase:
            runs[-1].append(step)
        else:
            runs.append([step])
    rows: list[list[Step | Elided]] = []
    for run in runs:
        items = elide(run, MAX_PHASE_PANELS, ELIDE_HEAD, ELIDE_TAIL)
        for i in range(0, len(items), columns):
            rows.append(items[i : i + columns])
    return rows


class StepsDrawing:
    """One collective's steps as panels: ranks are columns, chunks are rows.

    A transfer between neighbouring columns is a short arrow along the chunk's
    row; any other (the ring's wrap-around, a tree's long edges) is routed in a
    lane below the buffers and labelled with its chunk.
    """

    def __init__(self, trace: Trace, seq: int | None = None, group: str | None = None) -> None:
        self.collective = c = find_collective(trace, seq, group)
        self.n_chunks, self.states, self.full = replay(c)
        n = len(c.ranks)
        self.column = {r: i for i, r in enumerate(c.ranks)}
        # Wide rings get narrower columns and shorter rows, so two panels still fit side by side.
        self.pitch = min(0.6, max(0.36, 5.0 / max(n, 1)))
        self.cell_h = max(0.13, min(CELL_H, 2.4 / max(self.n_chunks, 1)))
        self.cell_w = self.pitch * 0.62
        self.lanes = max((len(self._routed(s)) for s in c.steps), default=0)
        matrix_w = n * self.pitch - (self.pitch - self.cell_w)
        self.panel_w = max(PAD + LABEL_W + matrix_w + PAD, 1.9)
        self.panel_h = (PANEL_HEAD + HEADER_ROW + self.n_chunks * self.cell_h
                        + (0.14 + LANE * self.lanes if self.lanes else 0) + PAD)
        columns = max(1, int((MAX_WIDTH + PANEL_GAP) // (self.panel_w + PANEL_GAP)))
        self.rows = _panels(c.steps, columns)
        used = max(len(r) for r in self.rows)
        inner = max(used * self.panel_w + (used - 1) * PANEL_GAP, 6.0)
        steps = len(c.steps)
        formula = " = 2(n−1)" if c.algorithm == "ring" and c.op == "all_reduce" and steps == 2 * (n - 1) else ""
        title = f"{c.algorithm + ' ' if c.algorithm else ''}{c.op} over {n} ranks: {steps} steps{formula}"
        if c.bytes:
            title += f" · {human_bytes(c.bytes)}"
        where = ", ".join(
            p for p in (f"group {c.group}" if c.group else "", f"seq {c.seq}" if c.seq is not None else "") if p
        )
        explain = ("Columns are ranks, rows (c0, c1, …) the chunks of each rank's buffer after the step: "
                   "the fuller the colour, the more ranks' data the chunk holds; ✓ complete; "
                   "a thick border arrived in this step. Arrows: what each rank sends in that step.")
        self.title = st.wrap(title, inner, st.TITLE_SIZE, "bold")
        self.subtitle = st.wrap((where + ". " if where else "") + explain, inner, st.BODY_SIZE)
        height = (MARGIN + TITLE_LINE * len(self.title) + SUB_LINE * len(self.subtitle) + 0.15
                  + len(self.rows) * (self.panel_h + PANEL_GAP) - PANEL_GAP + MARGIN)
        self.size = (inner + 2 * MARGIN, height)

    def _routed(self, step: Step) -> list[Transfer]:
        return [t for t in step.transfers if abs(self.column[t.dst] - self.column[t.src]) != 1]

    def draw(self, fig: Figure, box: tuple[float, float, float, float]) -> None:
        ax = inch_axes(fig, box, self.size, "collective-steps")
        y = st.put_lines(ax, MARGIN, self.size[1] - MARGIN, self.title, TITLE_LINE, "steps-title",
                         size=st.TITLE_SIZE, weight="bold")
        y = st.put_lines(ax, MARGIN, y, self.subtitle, SUB_LINE, "steps-subtitle", size=st.BODY_SIZE, color=st.MUTED)
        y -= 0.15
        gaps = 0
        for row in self.rows:
            x = MARGIN
            for item in row:
                if isinstance(item, Step):
                    self._panel(ax, item, x, y)
                else:
                    self._gap(ax, item.count, x, y, gaps)
                    gaps += 1
                x += self.panel_w + PANEL_GAP
            y -= self.panel_h + PANEL_GAP

    # -- one panel ------------------------------------------------------------------------------

    def _cell(self, left: float, top: float, rank: int, chunk: int) -> tuple[float, float]:
        """Bottom-left corner of a rank's chunk cell."""
        x = left + PAD + LABEL_W + self.column[rank] * self.pitch
        y = top - PANEL_HEAD - HEADER_ROW - (chunk + 1) * self.cell_h
        return x, y

    def _panel(self, ax: Axes, step: Step, left: float, top: float) -> None:
        ax.add_artist(
            FancyBboxPatch((left, top - self.panel_h), self.panel_w, self.panel_h,
                           boxstyle="round,pad=0,rounding_size=0.08", facecolor="#fafafa", edgecolor="#cccccc",
                           linewidth=1, gid=f"step-{step.index}",
                           label=f"step {step.index + 1}/{step.steps} {step.phase}")
        )
        st.put_text(ax, left + PAD, top - 0.1, f"step {step.index + 1}/{step.steps}", size=st.BODY_SIZE,
                    weight="bold", va="top")
        st.put_text(ax, left + PAD, top - 0.29, step.phase.replace("_", "-"), size=st.SMALL_SIZE, va="top",
                    color=st.MUTED, style="italic")
        ranks = self.collective.ranks
        wide = st.text_width(f"rank {max(ranks, default=0)}", 7.5) <= self.pitch - 0.02
        for r in ranks:
            x, _ = self._cell(left, top, r, 0)
            st.put_text(ax, x + self.cell_w / 2, top - PANEL_HEAD - HEADER_ROW / 2, f"rank {r}" if wide else str(r),
                        size=7.5, ha="center", va="center", weight="bold", gid=f"rank-{step.index}-{r}")
        for c in range(self.n_chunks):
            _, y = self._cell(left, top, ranks[0], c)
            st.put_text(ax, left + PAD, y + self.cell_h / 2, f"c{c}", size=7, va="center", color=st.MUTED)
        state = self.states[self.collective.steps.index(step)]
        arrived = {(t.dst, t.chunk) for t in step.transfers}
        for r in ranks:
            for c in range(self.n_chunks):
                self._chunk(ax, step, r, c, state.get(r, []), (r, c) in arrived, left, top)
        routed = self._routed(step)
        for t in step.transfers:
            if t in routed:
                self._routed_arrow(ax, step, t, routed.index(t), left, top)
            else:
                self._short_arrow(ax, step, t, left, top)

    def _chunk(self, ax, step, rank, c, chunks, new, left, top) -> None:
        x, y = self._cell(left, top, rank, c)
        held = chunks[c] if c < len(chunks) else frozenset()
        need = self.full[c]
        share = len(held & need) / len(need) if need else 0.0
        colour = CHUNK_COLOURS[c % len(CHUNK_COLOURS)]
        inset = 0.02
        ax.add_artist(
            Rectangle((x, y + inset), self.cell_w, self.cell_h - 2 * inset,
                      facecolor=st.tint(colour, 1 - (0.1 + 0.9 * share)) if held else "white",
                      edgecolor=st.INK if new else "#aaaaaa", linewidth=1.8 if new else 0.6,
                      gid=f"chunk-{step.index}-{rank}-{c}", label=f"{len(held & need)}/{len(need)}", zorder=3)
        )
        if share >= 1:
            st.put_text(ax, x + self.cell_w / 2, y + self.cell_h / 2, "✓", size=7.5, ha="center", va="center",
                        color="white", weight="bold", zorder=4)

    def _short_arrow(self, ax, step, t, left, top) -> None:
        (xs, ys), (xd, _) = self._cell(left, top, t.src, t.chunk), self._cell(left, top, t.dst, t.chunk)
        y = ys + self.cell_h / 2
        rightwards = xd > xs
        start = xs + self.cell_w if rightwards else xs
        end = xd if rightwards else xd + self.cell_w
        if not rightwards:
            y -= self.cell_h * 0.18  # a pair sending both ways along one row must not hide each other
        colour = CHUNK_COLOURS[t.chunk % len(CHUNK_COLOURS)]
        ax.add_artist(
            FancyArrowPatch((start, y), (end, y), arrowstyle="-|>", mutation_scale=9, linewidth=1.5, color=colour,
                            shrinkA=1, shrinkB=1, zorder=5,
                            gid=f"transfer-{step.index}-{t.src}-{t.dst}-{t.chunk}",
                            label=f"chunk {t.chunk}: rank {t.src} → rank {t.dst}")
        )

    def _routed_arrow(self, ax, step, t, lane, left, top) -> None:
        (xs, ys), (xd, _) = self._cell(left, top, t.src, t.chunk), self._cell(left, top, t.dst, t.chunk)
        gap = self.pitch - self.cell_w
        y = ys + self.cell_h / 2
        bottom = top - PANEL_HEAD - HEADER_ROW - self.n_chunks * self.cell_h - 0.12 - LANE * lane
        x_out = xs + self.cell_w + gap * (0.35 + 0.3 * lane / max(self.lanes, 1))
        x_in = xd - gap * (0.35 + 0.3 * lane / max(self.lanes, 1))
        path = Path([(xs + self.cell_w, y), (x_out, y), (x_out, bottom), (x_in, bottom), (x_in, y), (xd, y)])
        colour = CHUNK_COLOURS[t.chunk % len(CHUNK_COLOURS)]
        ax.add_artist(
            FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=9, linewidth=1.5, color=colour, zorder=5,
                            gid=f"transfer-{step.index}-{t.src}-{t.dst}-{t.chunk}",
                            label=f"chunk {t.chunk}: rank {t.src} → rank {t.dst}")
        )
        st.put_text(ax, (x_out + x_in) / 2, bottom, f"c{t.chunk}", size=7, ha="center", va="center", color=colour,
                    weight="bold", zorder=6, bbox=dict(boxstyle="round,pad=0.1", facecolor="#fafafa", edgecolor="none"))

    def _gap(self, ax, hidden: int, left: float, top: float, index: int) -> None:
        ax.add_artist(
            FancyBboxPatch((left, top - self.panel_h), self.panel_w, self.panel_h,
                           boxstyle="round,pad=0,rounding_size=0.08", facecolor="white", edgecolor=st.IDLE_EDGE,
                           linestyle=(0, (4, 3)), gid=f"elided-steps-{index}")
        )
        st.put_text(ax, left + self.panel_w / 2, top - self.panel_h / 2, f"… {hidden} more\nsteps …", ha="center",
                    va="center", color=st.MUTED)
