"""Where a document's collective times come from: the ``cost_model`` key of a trace and a report, typed.

A simulation times its collectives with α-β costs: simdist's NVLink-class defaults, values
given on the command line, or a profile measured by ``simdist calibrate``. The trace (and
a ``--real`` report, whose prediction is a simulation) says which, in one line
(``source``) and in numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CostModelSummary"]

_NUMBERS = ("alpha_intra", "beta_intra", "alpha_inter", "beta_inter", "gamma")


@dataclass(frozen=True, slots=True)
class CostModelSummary:
    """Which numbers timed the collectives.

    ``measured``: a profile (``profile`` its name, ``file`` where it was read from,
    ``backend`` what it measured, ``links`` whether each link class was measured or
    borrowed); otherwise the α (s) and β (s/byte) within and between machines and γ.
    """

    source: str
    measured: bool = False
    profile: str | None = None
    file: str | None = None
    backend: str | None = None
    links: Mapping[str, str] | None = None
    alpha_intra: float | None = None
    beta_intra: float | None = None
    alpha_inter: float | None = None
    beta_inter: float | None = None
    gamma: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "measured": self.measured, "profile": self.profile}
        if self.measured:
            data.update(file=self.file, backend=self.backend, links=None if self.links is None else dict(self.links))
        else:
            data.update({name: getattr(self, name) for name in _NUMBERS})
        return data

    @classmethod
    def from_dict(cls, data: object) -> CostModelSummary | None:
        """Read the ``cost_model`` key (None when it is absent or not an object)."""
        if not isinstance(data, Mapping):
            return None
        links = data.get("links")
        numbers = {name: _number(data.get(name)) for name in _NUMBERS}
        return cls(
            source=str(data.get("source") or ""), measured=bool(data.get("measured")),
            profile=_text(data.get("profile")), file=_text(data.get("file")), backend=_text(data.get("backend")),
            links=None if not isinstance(links, Mapping) else {str(k): str(v) for k, v in links.items()},
            **numbers,
        )  # fmt: skip


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
