"""Renderers only present a Derivation; they never differentiate."""

from __future__ import annotations

from typing import Callable

from gradcheck_cli.derive.loops import LoopDerivation
from gradcheck_cli.derive.reverse import DISPLAY, Derivation


def _no_loop(d: Derivation) -> None:
    """A loop file's derivation is printed in closed form (Σ_t, the δ recursion), never as T copies."""
    if getattr(d.graph, "loop", None) is not None and not isinstance(d, LoopDerivation):
        from gradcheck_cli.errors import UsageError

        raise UsageError(f"derive of a loop file: the loss of {d.graph.source} is not Σ_t J[t], J[T] or a "
                         "function of the last step (plus terms without a step), so derive cannot keep its loop",
                         None, "`gradcheck verify` checks its gradients and claims step by step")


def _text(d: Derivation, form: str = "both", steps: bool = False) -> str:
    _no_loop(d)
    from gradcheck_cli.render.text import render_plain

    if isinstance(d, LoopDerivation):
        from gradcheck_cli.render.loop_formats import render_loop_text
        return render_loop_text(d, form, steps)

    return render_plain(d, form, steps)


def _latex(d: Derivation, form: str = "both", steps: bool = False) -> str:
    _no_loop(d)
    from gradcheck_cli.render.latex import render_latex

    if isinstance(d, LoopDerivation):
        from gradcheck_cli.render.loop_formats import render_loop_latex
        return render_loop_latex(d, form, steps)

    return render_latex(d, form=form, steps=steps)


def _json(d: Derivation, form: str = "both", steps: bool = False) -> str:
    _no_loop(d)
    from gradcheck_cli.render.json import render_json

    if isinstance(d, LoopDerivation):
        from gradcheck_cli.render.loop_formats import render_loop_json
        return render_loop_json(d, form, steps)

    return render_json(d, form, steps)


RENDERERS: dict[str, Callable[..., str]] = {"text": _text, "latex": _latex, "json": _json}


def _notebook(d: Derivation) -> str:
    from gradcheck_cli.render.latex import render_latex

    if isinstance(d, LoopDerivation):
        from gradcheck_cli.render.loop_formats import render_loop_latex
        return "$$" + render_loop_latex(d, inline=True) + "$$"

    return "$$" + render_latex(d, fragment=True, inline=True) + "$$"


DISPLAY.update(text=_text, latex=_notebook)
