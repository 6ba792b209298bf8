"""sympy, imported on first use.

sympy is the algebra engine, and importing it costs more than everything else
`gradcheck verify` does on a small file (0.2 s of a 0.6 s run, measured with
`python -X importtime`). The numeric path keeps its constants as Fractions
and reads f′ from the generated table in `_derivatives.py`, so it never asks
for sympy; paths that do symbolic work (`exact`, LaTeX, sizes inside
constants, functions the table lacks) import it at their first `sp.X`.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """A module proxy: the first attribute access imports it; each attribute is then cached."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


sympy: Any = LazyModule("sympy")
