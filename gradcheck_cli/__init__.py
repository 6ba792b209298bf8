"""gradcheck: derive gradients the way the lecture writes them, and check them numerically.

    >>> import gradcheck_cli as gc
    >>> g = gc.parse("dims n = 3, m = 4\\nW : n x m\\nx : m\\nu : n\\ns = u^T tanh(W x)")
    >>> print(gc.derive(g, wrt=["W"]).gradients[0].wrt)
    W

Imports are lazy so the command line starts fast.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "parse": ("lang.graph", "parse"),
    "load": ("lang.graph", "load"),
    "Graph": ("lang.graph", "Graph"),
    "pp_graph": ("lang.graph", "pp_graph"),
    "derive": ("api", "derive"),
    "Derivation": ("api", "Derivation"),
    "verify": ("numeric.verify", "verify"),
    "verify_file": ("numeric.verify", "verify_file"),
    "VerifyOptions": ("numeric.verify", "VerifyOptions"),
    "check_gradient": ("numeric.check_api", "check_gradient"),
    "assert_gradient": ("numeric.check_api", "assert_gradient"),
    "GradcheckError": ("errors", "GradcheckError"),
    "ParseError": ("errors", "ParseError"),
    "ShapeError": ("errors", "ShapeError"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """`gc.derive` and `gc.verify` stay the functions once their same-named modules are imported:
    the import system would otherwise set the package attribute to the submodule, and
    `gc.verify(g)` would fail with "'module' object is not callable"."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
