"""derive of a file on disk: a loop is read with a few steps, since its closed form is the same at every T."""

from __future__ import annotations

from gradcheck_cli.derive.reverse import Derivation, derive
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.graph import Graph, load


def derive_file(path: str, wrt: list[str] | None = None, seed: int = 0) -> Derivation:
    return derive_path(path, wrt, seed)[1]


LOOP_STEPS = 6  # derive reads a loop with this many steps: its closed form is the same at every T


def derive_path(path: str, wrt: list[str] | None = None, seed: int = 0) -> tuple[Graph, Derivation]:
    """The file's graph and its derivation. A loop is read with LOOP_STEPS steps, so deriving a T = 1000
    file costs what T = 6 costs; read at its own T if the closed form cannot be built (or the file
    names a step past the sixth)."""
    try:
        short: Graph | None = load(path, seed, steps=LOOP_STEPS)
    except GradcheckError:  # a step past the sixth, or an error the full reading reports itself
        short = None
    if short is not None and short.short_of is None:  # no loop, or one of LOOP_STEPS steps at most
        return short, derive(short, wrt)
    if short is not None:
        try:
            d = derive(short, wrt)
            if hasattr(d, "recursions"):  # the closed form (derive/loops.py)
                return short, d
        except GradcheckError:
            pass
    graph = load(path, seed)
    return graph, derive(graph, wrt)
