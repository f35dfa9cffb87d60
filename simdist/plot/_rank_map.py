"""The rank-to-GPU map: one box per node, one cell per GPU, each worker's RANK on its GPU.

Layout happens first, in inches, with every label measured; drawing only places
what the layout decided. Artists carry gids (``node-<node_rank>``,
``worker-<rank>``, ``gpu-idle-<node_rank>-<gpu>``, ``mismatch-<rank>`` …) so
tests and SVG readers can find them.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from . import _style as st
from ._canvas import inch_axes
from ._legend import draw_legend, legend_rows
from ._rank_model import Gap, Node, RankMapModel, Slot, Worker

MARGIN = 0.3
MAX_ROW = 12.0  # inches of nodes side by side before the next row starts
MIN_WIDTH = 6.5
CELL_W, CELL_H, CELL_GAP = 1.15, 0.82, 0.1
SLOTS_PER_ROW = 8
PAD = 0.14
NODE_GAP = 0.28
GAP_W = 2.0
TITLE_LINE, SUB_LINE, NOTE_LINE = 0.3, 0.24, 0.2
NODE_LINE, NODE_SUB_LINE = 0.22, 0.19

LEGEND_TEXT = {
    "worker": "worker: RANK, LOCAL_RANK, physical GPU (colour = node)",
    "idle": "idle GPU",
    "hidden": "GPU hidden by CUDA_VISIBLE_DEVICES",
    "no_gpu": "no GPU for this local rank (torch.cuda.set_device fails)",
    "shared": "GPU used by two workers (NCCL: Duplicate GPU detected)",
    "cpu": "ran on the CPU (gloo), drawn at its predicted GPU",
    "missing": "predicted, never reported",
    "mismatch": "differs from prediction",
}


def _gpu_text(gpu) -> str:
    if gpu is None:
        return "no GPU"
    if isinstance(gpu, str) and gpu.upper().startswith(("GPU-", "MIG-")):
        return gpu  # a UUID already says what it is
    return f"GPU {gpu}"


@dataclass(slots=True)
class _NodeBox:
    node: Node
    width: float
    height: float
    head: list[tuple[str, float, str]]  # (text, size, weight) lines of the node's title
    columns: int


@dataclass(slots=True)
class _GapBox:
    gap: Gap
    width: float
    height: float


class RankMapDrawing:
    """A rank map laid out for a model; ``size`` is known before anything is drawn."""

    def __init__(self, model: RankMapModel, min_width: float = MIN_WIDTH) -> None:
        self.model = model
        boxes = [self._measure_node(i) if isinstance(i, Node) else _GapBox(i, GAP_W, 0.0) for i in model.items]
        node_heights = [b.height for b in boxes if isinstance(b, _NodeBox)]
        for box in boxes:
            if isinstance(box, _GapBox):
                box.height = min(node_heights) if node_heights else CELL_H + 2 * PAD
        self.rows = self._flow(boxes)
        if all(len(row) == 1 for row in self.rows) and node_heights:
            # One node per row (wide nodes): the gap becomes a slim band as wide as the nodes.
            widest = max(b.width for b in boxes)
            for box in boxes:
                if isinstance(box, _GapBox):
                    box.width, box.height = widest, 0.62
        nodes_width = max((sum(b.width for b in row) + NODE_GAP * (len(row) - 1) for row in self.rows), default=0.0)
        self.inner = max(nodes_width, min_width)
        self.title = st.wrap(model.title, self.inner, st.TITLE_SIZE, "bold")
        self.subtitle = st.wrap(model.subtitle, self.inner, st.BODY_SIZE) if model.subtitle else []
        self.caption = st.wrap(model.caption, self.inner, st.BODY_SIZE) if model.caption else []
        self.legend = self._legend_rows()
        self.notes = [(kind, line) for kind, text in model.notes for line in self._note_lines(kind, text)]
        nodes_height = sum(max(b.height for b in row) for row in self.rows) + NODE_GAP * (len(self.rows) - 1)
        height = (
            MARGIN
            + TITLE_LINE * len(self.title)
            + SUB_LINE * len(self.subtitle)
            + 0.15
            + nodes_height
            + 0.2
            + SUB_LINE * len(self.caption)
            + (0.08 + SUB_LINE * len(self.legend) if self.legend else 0)
            + (0.08 + NOTE_LINE * len(self.notes) if self.notes else 0)
            + MARGIN
        )
        self.size = (self.inner + 2 * MARGIN, height)

    # -- measuring ----------------------------------------------------------------------------

    def _measure_node(self, node: Node) -> _NodeBox:
        columns = max(1, min(len(node.slots), SLOTS_PER_ROW))
        rows = max(1, -(-len(node.slots) // SLOTS_PER_ROW))
        cells_width = columns * CELL_W + (columns - 1) * CELL_GAP
        main = f"node_rank {node.node_rank} · group rank {node.group_rank}"
        extra = []
        if node.host:
            extra.append(node.host)
        if node.hosts_store:
            extra.append("★ store")
        if node.visible_devices:
            extra.append(f"CUDA_VISIBLE_DEVICES={node.visible_devices}")
        one_line = " · ".join([main, *extra])
        if st.text_width(one_line, st.BODY_SIZE, "bold") <= max(cells_width, 3.0):
            head = [(one_line, st.BODY_SIZE, "bold")]
        else:
            head = [(main, st.BODY_SIZE, "bold")]
            if extra:
                head.append((" · ".join(extra), st.SMALL_SIZE, "normal"))
        head_width = max(st.text_width(t, size, weight) for t, size, weight in head)
        width = max(cells_width, min(head_width, MAX_ROW - 2 * PAD)) + 2 * PAD
        head = [(st.fit(t, width - 2 * PAD, size, weight), size, weight) for t, size, weight in head]
        head_height = NODE_LINE + NODE_SUB_LINE * (len(head) - 1)
        height = PAD + head_height + 0.06 + rows * CELL_H + (rows - 1) * CELL_GAP + PAD
        return _NodeBox(node, width, height, head, columns)

    @staticmethod
    def _flow(boxes: list) -> list[list]:
        rows: list[list] = []
        width = 0.0
        for box in boxes:
            if rows and width + NODE_GAP + box.width <= MAX_ROW:
                rows[-1].append(box)
                width += NODE_GAP + box.width
            else:
                rows.append([box])
                width = box.width
        return rows

    def _kinds(self) -> list[str]:
        kinds: set[str] = set()
        for item in self.model.items:
            if not isinstance(item, Node):
                continue
            for slot in item.slots:
                w = slot.worker
                if slot.kind in ("idle", "hidden"):
                    kinds.add(slot.kind)
                if w is None:
                    continue
                kinds.add("worker")
                kinds.update(
                    k for k, on in (("no_gpu", w.gpu is None and not (w.missing or w.on_cpu)), ("shared", w.shared),
                                    ("cpu", w.on_cpu), ("missing", w.missing), ("mismatch", w.differs)) if on
                )
        return [k for k in LEGEND_TEXT if k in kinds]

    def _legend_rows(self) -> list:
        first = next((i for i in self.model.items if isinstance(i, Node)), None)
        colour = st.node_colour(first.group_rank if first else 0)
        worker = st.tint(colour, 0.68)
        styles = {
            "worker": dict(facecolor=worker, edgecolor=colour),
            "idle": dict(facecolor=st.IDLE_FILL, edgecolor=st.IDLE_EDGE),
            "hidden": dict(facecolor=st.HIDDEN_FILL, edgecolor=st.IDLE_EDGE, hatch="xx"),
            "no_gpu": dict(facecolor=st.NO_GPU_FILL, edgecolor=st.ERROR),
            "shared": dict(facecolor=worker, edgecolor=st.WARN, linestyle=(0, (4, 2)), linewidth=1.6),
            "cpu": dict(facecolor=worker, edgecolor=colour, hatch="///"),
            "missing": dict(facecolor="white", edgecolor=colour, linestyle=(0, (4, 2))),
            "mismatch": dict(facecolor="white", edgecolor=st.ERROR, linewidth=2.6),
        }
        return legend_rows([(k, LEGEND_TEXT[k], styles[k]) for k in self._kinds()], self.inner)

    def _note_lines(self, kind: str, text: str) -> list[str]:
        mark = "≠ " if kind == "difference" else "⚠ "
        lines = st.wrap(mark + text, self.inner, st.SMALL_SIZE)
        return lines

    # -- drawing --------------------------------------------------------------------------------

    def draw(self, fig: Figure, box: tuple[float, float, float, float]) -> None:
        self.draw_on(inch_axes(fig, box, self.size, "rank-map"))

    def draw_on(self, ax: Axes) -> None:
        width, height = self.size
        title_colour = st.ERROR if self.model.title_colour == "error" else st.INK
        y = st.put_lines(ax, MARGIN, height - MARGIN, self.title, TITLE_LINE, "rank-map-title", size=st.TITLE_SIZE,
                         weight="bold", color=title_colour)
        y = st.put_lines(ax, MARGIN, y, self.subtitle, SUB_LINE, "rank-map-subtitle", size=st.BODY_SIZE,
                         color=st.MUTED)
        y -= 0.15
        gaps = 0
        for row in self.rows:
            x = MARGIN
            for box in row:
                if isinstance(box, _NodeBox):
                    self._draw_node(ax, box, x, y)
                else:
                    self._draw_gap(ax, box, x, y, gaps)
                    gaps += 1
                x += box.width + NODE_GAP
            y -= max(b.height for b in row) + NODE_GAP
        y += NODE_GAP - 0.2
        y = st.put_lines(ax, MARGIN, y, self.caption, SUB_LINE, "rank-map-caption", size=st.BODY_SIZE)
        if self.legend:
            y = draw_legend(ax, self.legend, MARGIN, y - 0.08, "rank-map")
        if self.notes:
            y -= 0.08
            for i, (kind, line) in enumerate(self.notes):
                colour = st.ERROR if kind == "difference" else st.WARN
                st.put_text(ax, MARGIN, y, line, size=st.SMALL_SIZE, va="top", color=colour, gid=f"rank-map-note-{i}")
                y -= NOTE_LINE

    def _draw_node(self, ax: Axes, box: _NodeBox, left: float, top: float) -> None:
        node = box.node
        colour = st.node_colour(node.group_rank)
        ax.add_artist(
            FancyBboxPatch(
                (left, top - box.height), box.width, box.height,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=st.tint(colour, 0.93), edgecolor=colour, linewidth=1.8,
                gid=f"node-{node.node_rank}", label=f"node_rank {node.node_rank}",
            )
        )
        y = top - PAD
        for i, (text, size, weight) in enumerate(box.head):
            st.put_text(ax, left + PAD, y, text, size=size, weight=weight, va="top",
                        color=st.INK if weight == "bold" else st.MUTED,
                        gid=f"node-{node.node_rank}-title" + (f"-{i}" if i else ""))
            y -= NODE_LINE if weight == "bold" else NODE_SUB_LINE
        y = top - PAD - NODE_LINE - NODE_SUB_LINE * (len(box.head) - 1) - 0.06
        for i, slot in enumerate(node.slots):
            row, column = divmod(i, box.columns)
            x0 = left + PAD + column * (CELL_W + CELL_GAP)
            y0 = y - (row + 1) * CELL_H - row * CELL_GAP
            self._draw_slot(ax, node, slot, x0, y0, colour)

    def _draw_slot(self, ax: Axes, node: Node, slot: Slot, x0: float, y0: float, colour: str) -> None:
        cx = x0 + CELL_W / 2
        if slot.kind == "elided":
            ax.add_artist(Rectangle((x0, y0), CELL_W, CELL_H, facecolor="none", edgecolor=st.IDLE_EDGE,
                                   linestyle=(0, (3, 2)), gid=f"elided-gpus-{node.node_rank}"))
            st.put_text(ax, cx, y0 + CELL_H / 2, f"… {slot.hidden_count}\nmore GPUs …", size=st.SMALL_SIZE,
                        ha="center", va="center", color=st.MUTED)
            return
        if slot.worker is None:
            hidden = slot.kind == "hidden"
            ax.add_artist(
                FancyBboxPatch(
                    (x0, y0), CELL_W, CELL_H, boxstyle="round,pad=0,rounding_size=0.05",
                    facecolor=st.HIDDEN_FILL if hidden else st.IDLE_FILL, edgecolor=st.IDLE_EDGE, linewidth=1,
                    hatch="xx" if hidden else None,
                    gid=f"gpu-{slot.kind}-{node.node_rank}-{slot.gpu}", label=f"GPU {slot.gpu} {slot.kind}",
                )
            )
            st.put_text(ax, cx, y0 + CELL_H * 0.58, f"GPU {slot.gpu}", size=st.BODY_SIZE, ha="center",
                        va="center", color=st.MUTED, bbox=_label_bg(hidden))
            st.put_text(ax, cx, y0 + CELL_H * 0.3, "not visible" if hidden else "idle", size=st.SMALL_SIZE,
                        ha="center", va="center", color=st.MUTED, style="italic", bbox=_label_bg(hidden))
            return
        self._draw_worker(ax, slot.worker, x0, y0, colour)

    def _draw_worker(self, ax: Axes, w: Worker, x0: float, y0: float, colour: str) -> None:
        cx = x0 + CELL_W / 2
        no_gpu = w.gpu is None and not w.missing and not w.on_cpu
        face = st.NO_GPU_FILL if no_gpu else ("white" if w.missing else st.tint(colour, 0.68))
        edge = st.ERROR if no_gpu else (st.WARN if w.shared else colour)
        gpu_line = st.fit(_gpu_text(w.gpu), CELL_W - 0.1, st.SMALL_SIZE)
        if w.on_cpu:
            gpu_line = st.fit("cpu" if w.gpu is None else f"cpu · {_gpu_text(w.gpu)}", CELL_W - 0.1, st.SMALL_SIZE)
        if w.missing:
            gpu_line = "missing"
        label = f"RANK {w.rank}\nLOCAL_RANK {w.local_rank}\n{gpu_line}"
        ax.add_artist(
            FancyBboxPatch(
                (x0, y0), CELL_W, CELL_H, boxstyle="round,pad=0,rounding_size=0.05",
                facecolor=face, edgecolor=edge, linewidth=1.6 if w.shared else 1.2,
                linestyle=(0, (4, 2)) if (w.shared or w.missing) else "solid",
                hatch="///" if w.on_cpu else None,
                gid=f"worker-{w.rank}", label=label,
            )
        )
        bg = _label_bg(w.on_cpu)
        st.put_text(ax, cx, y0 + CELL_H * 0.70, f"RANK {w.rank}", size=11, weight="bold", ha="center", va="center",
                    bbox=bg, gid=f"worker-{w.rank}-rank")
        st.put_text(ax, cx, y0 + CELL_H * 0.42, f"LOCAL_RANK {w.local_rank}", size=st.SMALL_SIZE, ha="center",
                    va="center", bbox=bg, gid=f"worker-{w.rank}-local-rank")
        gpu_colour = st.ERROR if (no_gpu or w.missing) else (st.WARN if w.shared else st.INK)
        st.put_text(ax, cx, y0 + CELL_H * 0.17, gpu_line, size=st.SMALL_SIZE, ha="center", va="center",
                    weight="bold" if (no_gpu or w.missing or w.shared) else "normal", color=gpu_colour,
                    bbox=bg, gid=f"worker-{w.rank}-gpu")
        if w.differs or w.missing:
            pad = 0.045
            ax.add_artist(
                Rectangle((x0 - pad, y0 - pad), CELL_W + 2 * pad, CELL_H + 2 * pad, facecolor="none",
                          edgecolor=st.ERROR, linewidth=2.6, gid=f"mismatch-{w.rank}",
                          label="differs from prediction")
            )

    def _draw_gap(self, ax: Axes, box: _GapBox, left: float, top: float, index: int) -> None:
        gap = box.gap
        ax.add_artist(
            FancyBboxPatch(
                (left, top - box.height), box.width, box.height, boxstyle="round,pad=0,rounding_size=0.08",
                facecolor="white", edgecolor=st.IDLE_EDGE, linestyle=(0, (4, 3)), linewidth=1.2,
                gid=f"elided-nodes-{index}",
            )
        )
        nodes = f"{gap.count} more node{'s' * (gap.count != 1)}"
        ranks = f"RANKs {gap.first_rank}–{gap.last_rank}" if gap.first_rank is not None else ""
        if box.height < 0.8:  # the slim band between wide nodes: one line
            text = f"… {nodes}{f' ({ranks})' if ranks else ''} …"
        else:
            text = f"… {nodes} …" + (f"\n{ranks}" if ranks else "")
        st.put_text(ax, left + box.width / 2, top - box.height / 2, text, size=st.BODY_SIZE, ha="center",
                    va="center", color=st.MUTED, linespacing=1.5)


def _label_bg(on: bool) -> dict | None:
    # Hatched cells: a white backing keeps the text readable over the stripes.
    return dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.85) if on else None
