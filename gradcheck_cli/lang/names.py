"""Names the lowering knows: the vector functions, what other tools call ours, and number literals."""

from __future__ import annotations

import difflib
import re
from fractions import Fraction
from typing import Any

from gradcheck_cli.lazy import sympy as sp

VECTOR_FUNCS = ("softmax", "log_softmax", "logsumexp", "sum", "mean", "norm", "tr", "det", "logdet",
                "diag", "inv", "cross_entropy", "max", "min", "ones", "zeros", "eye", "rows", "concat")
DATA_KINDS = ("onehot",)

# what the notes and other libraries call our functions: a hint, never a silent rename
ALIASES = {"trace": "tr", "ln": "log", "logistic": "sigmoid", "sigma": "sigmoid", "determinant": "det",
            "log_det": "logdet", "logsoftmax": "log_softmax", "lse": "logsumexp", "transpose": "T",
            "inverse": "inv", "frobenius": "norm", "l2": "norm", "xent": "cross_entropy",
            "crossentropy": "cross_entropy", "identity": "eye", "one_hot": "onehot", "leakyrelu": "leaky_relu"}


_DECIMAL = re.compile(r"(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?")


def exact_number(text: str, value: float) -> Any:
    """A number token as a sympy number, built from its digits (never sympified: the text is data).

    `0.1` → 1/10 and `2` → 2 exactly; a literal with more digits than float64 keeps
    (a 100,000-digit decimal) or written with an exponent becomes the float64 it
    evaluates to, so the cost stays linear in the token and numbers stay small.
    """
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return sp.Float(value)
    whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    digits = (whole + frac).lstrip("0")
    if len(digits) > 17 or abs(exp) > 30:
        return sp.Float(value)
    shift = exp - len(frac)  # 1e-5 is exactly 1/100000, as the file wrote it
    return Fraction(int(digits or "0") * 10 ** max(shift, 0), 10 ** max(-shift, 0))


def suggest(name: str, options: list[str]) -> str | None:
    """A did-you-mean hint: the same name in other case (ReLU), a known alias (trace), a near spelling."""
    folded = {o.lower(): o for o in options}
    key = name.lower()
    if key in folded and folded[key] != name:
        return f"did you mean `{folded[key]}`?"
    alias = ALIASES.get(key) or ALIASES.get(key.replace("_", ""))
    if alias == "T":
        return "a transpose is written `x^T` or `xᵀ`"
    if alias is not None and alias in options:
        return f"did you mean `{alias}`?"
    close = difflib.get_close_matches(name, options, n=3)
    close.sort(key=lambda c: sorted(c) != sorted(name))  # a swap of letters first: tahn → tanh, not tan
    return f"did you mean `{close[0]}`?" if close else None

