"""The launch as a Gantt chart: one row per agent, one per worker, on the virtual clock.

Bars come from pairs of trace events (agent_start → rdzv_start is "startup",
rdzv_start → ranks_assigned a rendezvous round, worker_spawn → worker_exit a
worker's life, …); failures, restarts and exits are markers. Long quiet stretches
(a 1800 s store timeout after a 3 s launch) are cut out of the time axis and
shown as a break, so the seconds where things happen stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from . import _style as st
from ._canvas import inch_axes
from ._legend import draw_legend, legend_rows
from ._rank_model import elide, headline

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
AGENT_ENDS = ("agent_exit", "agent_killed")
GROUP_ENDS = ("group_succeeded", "group_restart", "group_failed", "agent_error", "agent_killed", "node_failure")

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


@dataclass(slots=True)
class Bar:
    start: float
    end: float
    phase: str
    label: str = ""
    gid: str = ""


@dataclass(slots=True)
class Mark:
    t: float
    kind: str  # "failure" | "restart" | "exit"
    text: str
    gid: str


@dataclass(slots=True)
class Row:
    label: str
    agent: bool
    node: int
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    wrong: bool = False  # keep it when eliding
    elided: int = 0  # a "… n more …" row


# -- events → rows ----------------------------------------------------------------------------


def build_rows(trace: dict) -> tuple[list[Row], float, float]:
    """Rows (agent and workers of every machine) and the time span they cover."""
    events = [e for e in trace["events"] if e.get("kind") != "outcome"]
    end = max((float(e["t"]) for e in events), default=0.0)
    for e in events:
        d = e.get("detail") or {}
        if e.get("kind") == "collective" and isinstance(d.get("end"), (int, float)):
            end = max(end, float(d["end"]))
    hosts: dict[int, str] = {}
    agents: dict[int, Row] = {}
    workers: dict[tuple[int, int], Row] = {}
    open_agent: dict[int, tuple[float, str, str]] = {}  # node -> (since, phase, label)
    life: dict[tuple[int, int], dict] = {}  # (node, rank) -> the running worker's times
    local_of: dict[tuple[int, int], int] = {}
    latest: dict[int, tuple[int, int]] = {}  # rank -> (node, local rank) of its latest spawn
    counters: dict[str, int] = {}

    def gid(prefix: str) -> str:
        counters[prefix] = counters.get(prefix, -1) + 1
        return f"{prefix}-{counters[prefix]}"

    def agent(node: int) -> Row:
        if node not in agents:
            agents[node] = Row(f"node {node}", True, node)
        return agents[node]

    def worker(node: int, local: int) -> Row:
        if (node, local) not in workers:
            workers[(node, local)] = Row(f"LOCAL_RANK {local}", False, node)
        return workers[(node, local)]

    def close_agent(node: int, t: float) -> None:
        if node in open_agent:
            since, phase, label = open_agent.pop(node)
            if t > since:  # a phase that took no time has nothing to show
                agent(node).bars.append(Bar(since, t, phase, label, gid(f"agent-{node}-{phase}")))

    def open_phase(node: int, t: float, phase: str, label: str = "") -> None:
        close_agent(node, t)
        open_agent[node] = (t, phase, label)

    def finish_worker(node: int, rank: int, t: float, detail: dict) -> None:
        w = life.pop((node, rank), None)
        if w is None:
            return
        row = worker(node, w["local"])
        marks = [("spawn", w["spawn"]), ("init", w.get("start")), ("run", w.get("ready"))]
        times = [(p, s) for p, s in marks if s is not None] + [("", t)]
        for (phase, since), (_, until) in zip(times, times[1:]):
            if until <= since:  # a phase that took no time has nothing to show
                continue
            label = ""
            if phase == "run":
                label = f"RANK {rank}" + (f" · restart {w['attempt']}" if w["attempt"] else "")
            row.bars.append(Bar(since, until, phase, label, gid(f"worker-{node}-{w['local']}-{phase}")))
        code = detail.get("code")
        if code not in (0, None):
            why = detail.get("signal") or f"exit {code}"
            row.marks.append(Mark(t, "failure", why, gid(f"failure-{node}-{w['local']}")))
            row.wrong = True

    for e in events:
        kind, t, node, rank = e["kind"], float(e["t"]), e.get("node"), e.get("rank")
        d = e.get("detail") or {}
        if kind == "collective":  # may name no node: one event for the whole group
            _collective_bars(d, t, node, rank, local_of, latest, worker, gid)
            continue
        if node is None:
            continue
        if kind == "machine":
            hosts[node] = d.get("host")
            agent(node)
        elif kind == "agent_start":
            open_phase(node, t, "startup")
        elif kind == "rdzv_start":
            attempt = d.get("attempt") or 0
            open_phase(node, t, "rendezvous", f"rdzv #{attempt}" if attempt else "rdzv")
        elif kind == "rdzv_join" and node in open_agent and open_agent[node][1] == "rendezvous":
            open_agent[node] = (open_agent[node][0], "rendezvous", f"round {d.get('round')}")
        elif kind == "ranks_assigned":
            if node in open_agent and open_agent[node][1] == "rendezvous":
                since, _, label = open_agent[node]
                group = d.get("group_rank")
                if group is not None:
                    label = f"{label} → group rank {group}"
                open_agent[node] = (since, "rendezvous", label)
            open_phase(node, t, "monitor")
        elif kind == "worker_spawn" and rank is not None:
            local = d.get("local_rank", 0)
            local_of[(node, rank)] = local
            latest[rank] = (node, local)
            life[(node, rank)] = {"local": local, "spawn": t, "attempt": d.get("attempt", 0)}
            worker(node, local)
        elif kind == "worker_start" and (node, rank) in life:
            life[(node, rank)]["start"] = t
        elif kind == "process_group_ready" and (node, rank) in life:
            life[(node, rank)]["ready"] = t
        elif kind == "worker_exit" and rank is not None:
            finish_worker(node, rank, t, d)
        elif kind == "worker_failure" and rank is not None:
            local = local_of.get((node, rank), 0)
            row = worker(node, local)
            row.marks.append(Mark(t, "failure", "killed", gid(f"failure-{node}-{local}")))
            row.wrong = True
        elif kind in ("node_failure", "agent_error"):
            text = "machine dies" if kind == "node_failure" else str(d.get("error") or "torchrun fails")
            agent(node).marks.append(Mark(t, "failure", text, gid(f"failure-{node}-agent")))
            agent(node).wrong = True
            close_agent(node, t)
        elif kind == "group_restart":
            close_agent(node, t)
            text = "restart" if d.get("reason") == "failed" else "re-rendezvous"
            agent(node).marks.append(Mark(t, "restart", text, gid(f"restart-{node}")))
            agent(node).wrong = True
        elif kind in ("group_succeeded", "group_failed"):
            close_agent(node, t)
        elif kind == "exit_barrier":
            if node not in open_agent or open_agent[node][1] != "exit_barrier":
                open_phase(node, t, "exit_barrier")
        elif kind in AGENT_ENDS:
            close_agent(node, t)
            for (n, r) in [k for k in life if k[0] == node]:  # workers die with their machine
                finish_worker(n, r, t, {"code": None})
            if kind == "agent_exit":
                code = d.get("code")
                agent(node).marks.append(Mark(t, "exit", f"exit {code}", gid(f"exit-{node}")))
                if code not in (0, None):
                    agent(node).wrong = True

    for node in list(open_agent):  # still going when the trace ends
        close_agent(node, end)
    for (node, rank) in list(life):
        finish_worker(node, rank, end, {"code": None})

    rows: list[Row] = []
    for node in sorted(set(agents) | {n for n, _ in workers}):
        head = agent(node)
        if hosts.get(node):
            head.label = f"node {node} · {hosts[node]}"
        locals_ = sorted(local for n, local in workers if n == node)
        kept = elide([workers[(node, local)] for local in locals_], MAX_WORKERS, HEAD_WORKERS, TAIL_WORKERS,
                     lambda r: r.wrong)
        rows.append(head)
        for row, hidden in kept:
            rows.append(row if row is not None else Row(f"… {hidden} more workers", False, node, elided=hidden))
    times = [b.start for r in rows for b in r.bars] + [m.t for r in rows for m in r.marks]
    start = min(times + [0.0])  # virtual time starts at 0 when the first machine is booked
    return rows, start, max(end, start)


def _collective_bars(d, t, node, rank, local_of, latest, worker, gid) -> None:
    """A collective as a thin bar on the row of each rank that took part (where it runs now)."""
    start = float(d.get("start", t))
    stop = float(d.get("end", start))
    label = str(d.get("op") or "collective")
    for r in [rank] if rank is not None else list(d.get("ranks") or []):
        where = (node, local_of[(node, r)]) if (node, r) in local_of else latest.get(r)
        if where is not None:
            worker(*where).bars.append(Bar(start, stop, "collective", label, gid(f"collective-{r}")))


def _group_by_node(rows: list[Row]) -> list[list[Row]]:
    groups: list[list[Row]] = []
    for row in rows:
        if row.agent:
            groups.append([row])
        elif groups:
            groups[-1].append(row)
    return groups


def elide_nodes(rows: list[Row]) -> list[Row]:
    groups = _group_by_node(rows)
    out: list[Row] = []
    for group, hidden in elide(groups, MAX_NODES, HEAD_NODES, TAIL_NODES, lambda g: any(r.wrong for r in g)):
        if group is None:
            out.append(Row(f"… {hidden} more nodes", True, -1, elided=hidden))
        else:
            out.extend(group)
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

    def __init__(self, trace: dict, title: bool = True) -> None:
        rows, start, end = build_rows(trace)
        self.rows = elide_nodes(rows)
        times = [b.start for r in rows for b in r.bars] + [b.end for r in rows for b in r.bars]
        self.axis = TimeAxis(times + [m.t for r in rows for m in r.marks], start, end)
        self.label_width = max([st.text_width(r.label, st.SMALL_SIZE, "bold") for r in self.rows] + [0.8]) + 0.15
        self.inner = WIDTH - 2 * MARGIN
        # Room right of the last instant for the markers' words ("exit 0", an error name).
        last = [st.text_width(m.text, MARK_SIZE) + 0.25 for r in self.rows for m in r.marks if m.t >= end - 1e-9]
        self.right_pad = min(max([0.15, *last]), 2.0)
        outcome = trace.get("outcome", "?")
        plan = trace.get("plan")
        shape = headline(plan) if plan else f"{len([r for r in rows if r.agent])} machines"
        # Under a rank map that already names the job, the timeline starts with its verdict.
        self.title = st.wrap(f"Simulated launch: {shape}", self.inner, st.TITLE_SIZE, "bold") if title else []
        verdict = f"{'✓' if outcome == 'ok' else '✗'} {outcome}: {trace.get('diagnosis', '')}".strip()
        self.verdict = st.wrap(verdict, self.inner, st.BODY_SIZE)[:4]
        self.ok = outcome == "ok"
        self.subtitle = f"seed {trace.get('seed')} · virtual seconds"
        if self.axis.breaks:
            cuts = ", ".join(f"{b - a:.0f} s" for a, b in self.axis.breaks)
            self.subtitle += f" · long quiet stretches cut short (≈ on the axis): {cuts}"
        used = {b.phase for r in self.rows for b in r.bars}
        kinds = {m.kind for r in self.rows for m in r.marks}
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
            for mark in row.marks:
                self._mark(ax, i, mark, per_inch)
        restarts = [(i, m) for i, r in enumerate(self.rows) for m in r.marks if m.kind == "restart"]
        for i, mark in restarts:  # a restart concerns the agent's whole worker group
            last = i
            while last + 1 < n and not self.rows[last + 1].agent:
                last += 1
            ax.plot([axis(mark.t)] * 2, [i - 0.45, last + 0.45], color=st.WARN, linestyle=(0, (3, 2)),
                    linewidth=1.2, zorder=3)

    def _bar(self, ax: Axes, i: int, bar: Bar, per_inch: float) -> None:
        x0, x1 = self.axis(bar.start), self.axis(bar.end)
        colour = PHASES[bar.phase][1]
        collective = bar.phase == "collective"
        height = 0.26 if collective else BAR
        y0 = i + BAR / 2 - height if collective else i - height / 2
        width = max(x1 - x0, per_inch * 0.02)  # an instant still shows
        # White edges keep back-to-back phases (and a restarted worker's two lives) apart.
        ax.add_artist(Rectangle((x0, y0), width, height, facecolor=colour, edgecolor="none" if collective else "white",
                               linewidth=1.2, gid=bar.gid, label=f"{bar.phase} {bar.label}".strip(), zorder=2))
        if bar.label:
            size = 7 if collective else st.SMALL_SIZE - 0.5
            if st.text_width(bar.label, size) + 0.08 <= (x1 - x0) / per_inch:
                dark = bar.phase in ("run", "collective")
                st.put_text(ax, (x0 + x1) / 2, y0 + height / 2, bar.label, size=size, ha="center", va="center",
                            color="white" if dark else st.INK, zorder=3, clip_on=True)

    def _mark(self, ax: Axes, i: int, mark: Mark, per_inch: float) -> None:
        x = self.axis(mark.t)
        if mark.kind == "exit":
            ax.plot([x, x], [i - BAR / 2, i + BAR / 2], color=st.INK, linewidth=1.5, zorder=3, gid=mark.gid)
            st.put_text(ax, x + 0.05 * per_inch, i, mark.text, size=MARK_SIZE, va="center", color=st.MUTED, zorder=3)
            return
        symbol, colour, _ = MARKERS[mark.kind]
        st.put_text(ax, x, i, symbol, size=12, ha="center", va="center", color=colour, weight="bold", zorder=6,
                    gid=mark.gid)
        st.put_text(ax, x + 0.1 * per_inch, i, mark.text, size=MARK_SIZE, va="center", color=colour, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
