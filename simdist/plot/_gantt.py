"""The launch as a Gantt chart: one row per agent, one per worker, on the virtual clock.

What the bars and markers are comes from :mod:`simdist.documents._lives`, the one reading
of a trace's events (agent phases, worker lives, failures, restarts, collectives); this
module only lays them out and draws them. Long quiet stretches (a 1800 s store timeout
after a 3 s launch) are cut out of the time axis and shown as a break, so the seconds
where things happen stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..documents import Trace
from ..documents._elide import Elided, elide
from ..documents._lives import Lane, Mark, Span, launch_lanes, trace_end
from . import _style as st
from ._canvas import inch_axes
from ._legend import draw_legend, legend_rows

PHASES = {  # key: (legend text, colour)
    "startup": ("torchrun start-up", "#b9c3d3"),
    "rendezvous": ("rendezvous round", "#f2b447"),
    "monitor": ("agent watches its workers", "#dde7f3"),
    "exit_barrier": ("exit barrier", "#8fb0d6"),
    "spawn": ("worker start-up", "#d4e8d0"),
    "init": ("init_process_group", "#99cf8f"),
    "run": ("running", "#4e9a47"),
    "collective": ("collective", "#1d3f66"),
}
MARKERS = {
    "failure": ("✗", st.ERROR, "failure (worker or machine killed, torchrun error)"),
    "restart": ("↻", st.WARN, "worker group restart"),
}

WIDTH = 11.0
MARGIN = 0.3
ROW_H = 0.3
BAR = 0.62
TITLE_LINE, SUB_LINE = 0.3, 0.24
MAX_NODES, HEAD_NODES, TAIL_NODES = 8, 4, 2
MAX_WORKERS, HEAD_WORKERS, TAIL_WORKERS = 6, 3, 1
BREAK_SHARE = 0.05  # of the axis, per cut-out stretch
MAX_BREAKS = 3
MARK_SIZE = 7


@dataclass(frozen=True, slots=True)
class Bar:
    span: Span
    gid: str


@dataclass(frozen=True, slots=True)
class Marker:
    mark: Mark
    gid: str


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    agent: bool
    node: int
    bars: tuple[Bar, ...] = ()
    markers: tuple[Marker, ...] = ()
    wrong: bool = False  # keep it when eliding
    elided: int = 0  # a "… n more …" row


# -- lanes → rows -----------------------------------------------------------------------------


def build_rows(trace: Trace) -> tuple[list[Row], float, float]:
    """Rows (agent and workers of every machine, long nodes' middle workers elided) and the time span they cover."""
    rows: list[Row] = []
    by_node: dict[int, list[Row]] = {}
    for row in _rows(launch_lanes(trace)):
        if row.agent:
            rows.append(row)
        else:
            by_node.setdefault(row.node, []).append(row)
    out: list[Row] = []
    for head in rows:
        out.append(head)
        for item in elide(by_node.get(head.node, []), MAX_WORKERS, HEAD_WORKERS, TAIL_WORKERS, lambda r: r.wrong):
            out.append(Row(f"… {item.count} more workers", False, head.node, elided=item.count)
                       if isinstance(item, Elided) else item)  # fmt: skip
    times = [b.span.start for r in out for b in r.bars] + [m.mark.t for r in out for m in r.markers]
    start = min(times + [0.0])  # virtual time starts at 0 when the first machine is booked
    return out, start, max(trace_end(trace), start)


def _rows(lanes: tuple[Lane, ...]) -> list[Row]:
    """One row per lane; every bar and marker gets a gid unique in the figure, ``<what>-<n>``."""
    counters: dict[str, int] = {}

    def gid(prefix: str) -> str:
        counters[prefix] = counters.get(prefix, -1) + 1
        return f"{prefix}-{counters[prefix]}"

    # A collective's gid names its rank, not its lane: number each rank's in time order,
    # across every lane (life) the rank ran on.
    collectives = [(i, j) for i, lane in enumerate(lanes) for j, span in enumerate(lane.spans)
                   if span.phase == "collective"]  # fmt: skip
    collectives.sort(key=lambda at: lanes[at[0]].spans[at[1]].start)
    collective_gids = {(i, j): gid(f"collective-{lanes[i].spans[j].rank}") for i, j in collectives}
    rows = []
    for i, lane in enumerate(lanes):
        if lane.agent:
            label, where = f"node {lane.node}" + (f" · {lane.host}" if lane.host else ""), f"{lane.node}"
        else:
            label, where = f"LOCAL_RANK {lane.local_rank}", f"{lane.node}-{lane.local_rank}"
        owner = "agent" if lane.agent else "worker"
        bars = tuple(Bar(span, collective_gids.get((i, j)) or gid(f"{owner}-{where}-{span.phase}"))
                     for j, span in enumerate(lane.spans))  # fmt: skip
        # An agent's failure is told apart from its workers': failure-<node>-agent, failure-<node>-<local>.
        markers = tuple(Marker(mark, gid(f"{mark.kind}-{lane.node}-agent" if lane.agent and mark.kind == "failure"
                                         else f"{mark.kind}-{where}")) for mark in lane.marks)  # fmt: skip
        rows.append(Row(label, lane.agent, lane.node, bars, markers, lane.troubled))
    return rows


def _group_by_node(rows: list[Row]) -> list[list[Row]]:
    groups: list[list[Row]] = []
    for row in rows:
        if row.agent:
            groups.append([row])
        elif groups:
            groups[-1].append(row)
    return groups


def elide_nodes(rows: list[Row]) -> list[Row]:
    out: list[Row] = []
    for item in elide(_group_by_node(rows), MAX_NODES, HEAD_NODES, TAIL_NODES, lambda g: any(r.wrong for r in g)):
        if isinstance(item, Elided):
            out.append(Row(f"… {item.count} more nodes", True, -1, elided=item.count))
        else:
            out.extend(item)
    return out


# -- the time axis ------------------------------------------------------------------------------


class TimeAxis:
    """Virtual seconds → axis position, with long idle stretches cut down to a short break."""

    def __init__(self, times: list[float], start: float, end: float) -> None:
        points = sorted({start, end, *times})
        self.start, self.end = start, end
        self.breaks: list[tuple[float, float]] = []
        for _ in range(MAX_BREAKS):
            gaps = [(b - a, a, b) for a, b in zip(points, points[1:]) if (a, b) not in self.breaks]
            if not gaps:
                break
            size, a, b = max(gaps)
            rest = self._visible() - size
            if size < 5 or size < 2.5 * max(rest, 1e-9):  # only cut what dwarfs everything else
                break
            self.breaks.append((a, b))
        self.breaks.sort()
        visible = self._visible()
        self.cut = max(visible, 1e-9) * BREAK_SHARE / (1 - BREAK_SHARE * len(self.breaks)) if self.breaks else 0.0

    def _visible(self) -> float:
        return (self.end - self.start) - sum(b - a for a, b in self.breaks)

    def __call__(self, t: float) -> float:
        x = t - self.start
        for a, b in self.breaks:
            if t >= b:
                x -= (b - a) - self.cut
            elif t > a:
                x -= (t - a) - self.cut * (t - a) / (b - a)
        return x

    @property
    def length(self) -> float:
        return max(self(self.end), 1e-9)

    def segments(self) -> list[tuple[float, float]]:
        edges = [self.start] + [t for gap in self.breaks for t in gap] + [self.end]
        return list(zip(edges[::2], edges[1::2]))

    def ticks(self, inches: float) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        for a, b in self.segments():
            share = (self(b) - self(a)) / self.length
            bins = max(1, int(share * inches / 1.1))
            locator = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10])
            values = [v for v in locator.tick_values(a, b) if a - 1e-9 <= v <= b + 1e-9]
            if not values:
                values = [a]
            for v in values:
                x = self(v)
                if out and (x - out[-1][0]) / self.length * inches < 0.45:
                    continue
                out.append((x, f"{v:g}"))
        return out


# -- drawing ----------------------------------------------------------------------------------


class TimelineDrawing:
    """A trace's launch timeline, laid out before drawing."""

    def __init__(self, trace: Trace, title: bool = True) -> None:
        rows, start, end = build_rows(trace)
        self.rows = elide_nodes(rows)
        times = [b.span.start for r in rows for b in r.bars] + [b.span.end for r in rows for b in r.bars]
        self.axis = TimeAxis(times + [m.mark.t for r in rows for m in r.markers], start, end)
        self.label_width = max([st.text_width(r.label, st.SMALL_SIZE, "bold") for r in self.rows] + [0.8]) + 0.15
        self.inner = WIDTH - 2 * MARGIN
        # Room right of the last instant for the markers' words ("exit 0", an error name).
        last = [st.text_width(m.mark.text, MARK_SIZE) + 0.25 for r in self.rows for m in r.markers
                if m.mark.t >= end - 1e-9]
        self.right_pad = min(max([0.15, *last]), 2.0)
        outcome = trace.outcome
        shape = trace.plan.headline() if trace.plan else f"{len([r for r in rows if r.agent])} machines"
        # Under a rank map that already names the job, the timeline starts with its verdict.
        self.title = st.wrap(f"Simulated launch: {shape}", self.inner, st.TITLE_SIZE, "bold") if title else []
        verdict = f"{'✓' if outcome == 'ok' else '✗'} {outcome}: {trace.diagnosis}".strip()
        self.verdict = st.wrap(verdict, self.inner, st.BODY_SIZE)[:4]
        self.ok = outcome == "ok"
        self.subtitle = f"seed {trace.seed} · virtual seconds"
        if self.axis.breaks:
            cuts = ", ".join(f"{b - a:.0f} s" for a, b in self.axis.breaks)
            self.subtitle += f" · long quiet stretches cut short (≈ on the axis): {cuts}"
        used = {b.span.phase for r in self.rows for b in r.bars}
        kinds = {m.mark.kind for r in self.rows for m in r.markers}
        entries = [(p, text, dict(facecolor=colour, edgecolor="none"))
                   for p, (text, colour) in PHASES.items() if p in used]
        entries += [(k, text, dict(symbol=sym, color=colour))
                    for k, (sym, colour, text) in MARKERS.items() if k in kinds]
        self.legend = legend_rows(entries, self.inner)
        self.chart_height = ROW_H * len(self.rows) + 0.1
        self.header = MARGIN + TITLE_LINE * len(self.title) + SUB_LINE * (len(self.verdict) + 1) + 0.12
        self.footer = 0.42 + 0.24 * len(self.legend) + MARGIN  # tick labels, then the legend
        self.size = (WIDTH, self.header + self.chart_height + self.footer)

    def draw(self, fig: Figure, box: tuple[float, float, float, float]) -> None:
        W, H = self.size
        text_ax = inch_axes(fig, box, self.size, "timeline")
        y = st.put_lines(text_ax, MARGIN, H - MARGIN, self.title, TITLE_LINE, "timeline-title", size=st.TITLE_SIZE,
                         weight="bold")
        y = st.put_lines(text_ax, MARGIN, y, self.verdict, SUB_LINE, "timeline-verdict", size=st.BODY_SIZE,
                         color=st.OK if self.ok else st.ERROR)
        st.put_text(text_ax, MARGIN, y, self.subtitle, size=st.SMALL_SIZE, va="top", color=st.MUTED)
        left = MARGIN + self.label_width
        chart_w = W - left - MARGIN
        bottom = self.footer
        l, b, w, h = box
        ax = fig.add_axes((l + left / W * w, b + bottom / H * h, chart_w / W * w, self.chart_height / H * h))
        ax.set_gid("timeline-chart")
        self._chart(ax, chart_w)
        st.put_text(text_ax, left - 0.15, bottom - 0.07, "time (s)", size=st.SMALL_SIZE, ha="right", va="top",
                    color=st.MUTED)
        draw_legend(text_ax, self.legend, MARGIN, bottom - 0.42, "timeline")

    def _chart(self, ax: Axes, chart_w: float) -> None:
        axis = self.axis
        n = len(self.rows)
        data_w = chart_w - self.right_pad
        per_inch = axis.length / data_w
        ax.set_xlim(0, axis.length + self.right_pad * per_inch)
        ax.set_ylim(n - 0.5 + 0.05, -0.5 - 0.05)
        ax.set_yticks(range(n))
        ax.set_yticklabels([r.label for r in self.rows], fontsize=st.SMALL_SIZE, fontfamily=st.FONT)
        for label, row in zip(ax.get_yticklabels(), self.rows):
            label.set_fontweight("bold" if row.agent else "normal")
            label.set_color(st.MUTED if row.elided else st.INK)
        ax.tick_params(axis="y", length=0)
        ticks = axis.ticks(data_w)
        ax.set_xticks([x for x, _ in ticks])
        ax.set_xticklabels([t for _, t in ticks], fontsize=st.SMALL_SIZE, fontfamily=st.FONT)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
        ax.set_axisbelow(True)
        # Each cut: a pale band with dashed edges and "≈" on the axis; bars run through it.
        for k, (a, b) in enumerate(axis.breaks):
            x0, x1 = axis(a), axis(b)
            ax.axvspan(x0, x1, facecolor="#f3f3f3", edgecolor="none", zorder=0, gid=f"time-break-{k}")
            for x in (x0, x1):
                ax.axvline(x, color="#bbbbbb", linestyle=(0, (2, 2)), linewidth=0.8, zorder=1)
            st.put_text(ax, (x0 + x1) / 2, n - 0.5 + 0.05, "≈", size=11, ha="center", va="center", color=st.MUTED,
                        zorder=7, clip_on=False, bbox=dict(boxstyle="square,pad=0.05", facecolor="white",
                                                           edgecolor="none"))
        for i, row in enumerate(self.rows):
            if row.agent and i:
                ax.axhline(i - 0.5, color="#cccccc", linewidth=0.8)
            for bar in row.bars:
                self._bar(ax, i, bar, per_inch)
            for marker in row.markers:
                self._mark(ax, i, marker, per_inch)
        restarts = [(i, m.mark) for i, r in enumerate(self.rows) for m in r.markers if m.mark.kind == "restart"]
        for i, mark in restarts:  # a restart concerns the agent's whole worker group
            last = i
            while last + 1 < n and not self.rows[last + 1].agent:
                last += 1
            ax.plot([axis(mark.t)] * 2, [i - 0.45, last + 0.45], color=st.WARN, linestyle=(0, (3, 2)),
                    linewidth=1.2, zorder=3)

    def _bar(self, ax: Axes, i: int, bar: Bar, per_inch: float) -> None:
        span = bar.span
        x0, x1 = self.axis(span.start), self.axis(span.end)
        colour = PHASES[span.phase][1]
        collective = span.phase == "collective"
        height = 0.26 if collective else BAR
        y0 = i + BAR / 2 - height if collective else i - height / 2
        width = max(x1 - x0, per_inch * 0.02)  # an instant still shows
        # White edges keep back-to-back phases (and a restarted worker's two lives) apart.
        ax.add_artist(Rectangle((x0, y0), width, height, facecolor=colour, edgecolor="none" if collective else "white",
                               linewidth=1.2, gid=bar.gid, label=f"{span.phase} {span.label}".strip(), zorder=2))
        if span.label:
            size = 7 if collective else st.SMALL_SIZE - 0.5
            if st.text_width(span.label, size) + 0.08 <= (x1 - x0) / per_inch:
                dark = span.phase in ("run", "collective")
                st.put_text(ax, (x0 + x1) / 2, y0 + height / 2, span.label, size=size, ha="center", va="center",
                            color="white" if dark else st.INK, zorder=3, clip_on=True)

    def _mark(self, ax: Axes, i: int, marker: Marker, per_inch: float) -> None:
        mark = marker.mark
        x = self.axis(mark.t)
        if mark.kind == "exit":
            ax.plot([x, x], [i - BAR / 2, i + BAR / 2], color=st.INK, linewidth=1.5, zorder=3, gid=marker.gid)
            st.put_text(ax, x + 0.05 * per_inch, i, mark.text, size=MARK_SIZE, va="center", color=st.MUTED, zorder=3)
            return
        symbol, colour, _ = MARKERS[mark.kind]
        st.put_text(ax, x, i, symbol, size=12, ha="center", va="center", color=colour, weight="bold", zorder=6,
                    gid=marker.gid)
        st.put_text(ax, x + 0.1 * per_inch, i, mark.text, size=MARK_SIZE, va="center", color=colour, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
