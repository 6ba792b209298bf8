"""What every report format reads: a run's entries, their points, and how to score them.

One `Entry` is one configured check of `gradcheck run` (a `.grad` file,
maybe an implementation, worth some points) or one file of a plain
`gradcheck verify` (points None). The scoring rules live here, once, so that
Gradescope, Classroom, JSON and the Markdown summary cannot disagree on a
student's score:

- all-or-nothing (default): the points if every check of the file passed, else 0;
- `partial`: points × (passing graded checks / graded checks), where the graded
  checks are the student's work: the claims and the implementation checks.
  Derived-gradient checks count only in a file that has neither;
- an entry whose input could not be used (`error`) scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gradcheck_cli.numeric.result import Check, Report

GRADED_KINDS = ("claim", "impl")


@dataclass(frozen=True)
class Entry:
    """One graded unit: a Report, or the error text saying why there is none."""

    name: str
    points: float | None = None  # None: a plain `verify`, not graded
    visibility: str = (
        "visible"  # Gradescope's: visible | hidden | after_due_date | after_published
    )
    report: Report | None = None
    error: str | None = (
        None  # the input could not be used (parse error, missing file): exit 2 material
    )
    partial: bool = False
    file: str | None = (
        None  # the .grad file, when there is no report to say it (error entries)
    )
    line: int | None = None  # where the input error is, when known
    # the `gradcheck verify …` command that reruns this entry with the same
    # options (impl, convention, seed…); `run` knows them, a Report alone does not
    rerun: str | None = None
    # the claims the handout asks for ("claim ds/dW", …) when the check names a
    # `question`: then exactly these are graded, each once, whatever else the
    # file claims (a claim repeated ten times still counts once)
    required: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.report is not None and self.report.ok

    @property
    def checks(self) -> list[Check]:
        return list(self.report.checks) if self.report is not None else []

    @property
    def graded_checks(self) -> list[Check]:
        """The checks that measure the student's work (claims, implementation), else all of them."""
        own = [c for c in self.checks if c.kind in GRADED_KINDS]
        return own or self.checks

    @property
    def fraction(self) -> float:
        """Share of graded checks that pass: 1.0 for a report with no checks, 0.0 for an error."""
        if self.error is not None or self.report is None:
            return 0.0
        if self.required is not None:
            return self._required_fraction()
        graded = self.graded_checks
        if not graded:
            return 1.0
        return sum(1 for c in graded if c.ok) / len(graded)

    def _required_fraction(self) -> float:
        """Each required claim counts once (passing when every claim of that name passes, and there is one),
        then each impl check."""
        def passed(name: str) -> bool:
            mine = [c.ok for c in self.checks if c.name == name and c.kind == "claim"]
            return bool(mine) and all(mine)

        units = [passed(name) for name in self.required or ()]
        units += [c.ok for c in self.checks if c.kind == "impl"]
        return sum(units) / len(units) if units else 1.0

    @property
    def max_score(self) -> float:
        return float(self.points or 0.0)

    @property
    def score(self) -> float:
        if self.points is None or self.error is not None or self.report is None:
            return 0.0
        if self.partial:
            return _round(self.points * self.fraction)
        return float(self.points) if self.ok else 0.0

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.checks)

    @property
    def source(self) -> str | None:
        """The .grad file this entry is about."""
        if self.report is not None:
            return self.report.file
        return self.file

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


@dataclass(frozen=True)
class RunResult:
    """Everything one `gradcheck run` (or `verify`) found, in config order."""

    entries: Sequence[Entry]
    seconds: float = 0.0
    name: str = "gradcheck"  # the suite's name in JUnit and the summary heading

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))  # frozen means frozen

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    @property
    def graded(self) -> bool:
        """A `run` with points (scores make sense), as opposed to a plain `verify`."""
        return any(e.points is not None for e in self.entries)

    @property
    def score(self) -> float:
        return _round(sum(e.score for e in self.entries))

    @property
    def max_score(self) -> float:
        return _round(sum(e.max_score for e in self.entries))

    @property
    def n_checks(self) -> int:
        return sum(1 if e.error is not None else len(e.checks) for e in self.entries)

    @property
    def n_failed(self) -> int:
        return sum(1 if e.error is not None else len(e.failed) for e in self.entries)


def _round(x: float) -> float:
    """Scores are sums of decimals: 0.1 + 0.2 must print as 0.3 in a grade book."""
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
