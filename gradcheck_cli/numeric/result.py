"""What a check found, as plain data: the report formats only read these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("derived", "claim", "impl")


@dataclass
class Check:
    """One verdict: a derived gradient, a student's claim, or an implementation's output.

    `status` refines `ok`: "pass", "kink" (disagreement explained by a
    non-differentiable point: still ok), "fail", "error" (the claim or
    implementation could not be evaluated: not ok), "skipped" (ok, with a note).
    """

    name: str
    kind: str
    ok: bool
    status: str = "pass"
    message: str = ""
    convention: str | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    worst_index: list[int] | None = None
    evaluations: int = 0
    method: str = "central"
    mode: str = "full"
    line: int | None = None
    file: str | None = None
    column: int | None = None  # where in the line an unreadable claim goes wrong (1-based)
    diagnosis: str | None = None
    wrt: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """All checks of one `verify` run on one file."""

    file: str
    checks: list[Check] = field(default_factory=list)
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "seed": self.seed,
            "notes": list(self.notes),
            "checks": [c.to_json() for c in self.checks],
        }
