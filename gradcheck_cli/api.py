"""The Python API in one place, for tests and notebooks (the CLI calls the same functions)."""

from __future__ import annotations

from .derive import Derivation, derive, derive_file
from .ir import Graph, load, parse, pp_graph
from .numeric.result import Check, Report
from .verify import VerifyOptions, verify, verify_file

__all__ = ["Check", "Derivation", "Graph", "Report", "VerifyOptions", "derive", "derive_file", "load", "parse",
           "pp_graph", "verify", "verify_file"]
