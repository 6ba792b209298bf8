"""The command line: parses flags, calls the library, maps outcomes to exit codes.

No maths here. Heavy imports (sympy, numpy) happen inside the commands, so
`gradcheck --help` stays fast. Exit codes (spec/CLI.md): 0 every check
passed, 1 a check failed, 2 the input could not be used, 3 gradcheck failed.

One module per command group: `show` (derive, graph, flow, ops), `check`
(verify), `homework` (run, init); `common` holds the app, the flag choices,
the error guard and the output helpers. The commands are registered here, in
the order `gradcheck --help` lists them.
"""

from __future__ import annotations

import sys
import traceback

from gradcheck_cli.cli import plain_params
from gradcheck_cli.cli.check import verify
from gradcheck_cli.cli.common import STATE, app
from gradcheck_cli.cli.homework import init, run
from gradcheck_cli.cli.show import derive, flow, graph, ops

plain_params.install()  # plain option types skip pydantic: ~0.14 s of every run
for _command in (derive, verify, graph, flow, run, init, ops):
    app.command()(_command)

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: exit codes from the commands, 3 for a crash outside them."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as e:  # pragma: no cover - last resort
        if STATE["debug"]:
            traceback.print_exc()
        sys.stderr.write(f"gradcheck internal error ({type(e).__name__}: {e}); please report it\n")
        sys.exit(3)
