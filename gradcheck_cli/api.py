"""The Python API in one place, for tests and notebooks (the CLI calls the same functions)."""

from __future__ import annotations

import gradcheck_cli.render  # noqa: F401  (a Derivation prints itself through the renderers)
from gradcheck_cli.derive.from_file import derive_file
from gradcheck_cli.derive.reverse import Derivation, derive
from gradcheck_cli.lang.graph import Graph, load, parse, pp_graph
from gradcheck_cli.numeric.result import Check, Report
from gradcheck_cli.numeric.verify import VerifyOptions, verify, verify_file

__all__ = ["Check", "Derivation", "Graph", "Report", "VerifyOptions", "derive", "derive_file", "load", "parse",
           "pp_graph", "verify", "verify_file"]
