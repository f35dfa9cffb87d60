"""make_plan(): the rule book's layout plus the warnings about it, as every surface shows them."""

from __future__ import annotations

from collections.abc import Sequence

from ._checks import check_plan
from ._plan import Plan, build_plan
from ._spec import LaunchSpec

__all__ = ["make_plan"]


def make_plan(
    spec: LaunchSpec,
    *,
    order: Sequence[int] | None = None,
    restart_count: int = 0,
    master_port: int | None = None,
) -> Plan:
    """Compute the plan torchrun would produce, with its warnings.

    ``order`` lists the machines that take part, in group-rank order (default: the
    rendezvous' own order, every machine). The simulator passes the order a
    rendezvous round decided, and ``master_port`` once a c10d store has one.
    """
    plan = build_plan(spec, order=order, restart_count=restart_count, master_port=master_port)
    return plan.with_warnings(tuple(check_plan(plan)))
