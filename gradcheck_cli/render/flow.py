"""Presenting a FlowReport: a log-scale bar chart as text, stable JSON, a standalone SVG plot.

These only present numbers `flow.py` measured; they never evaluate the graph.
The text is plain unicode (what a pipe, NO_COLOR or a golden file gets);
`print_flow_rich` colours the same lines for a terminal.
"""

from __future__ import annotations

import json
import math
from typing import Any
from xml.sax.saxutils import escape

from gradcheck_cli.numeric.flow import FACTOR, SATURATED_FPRIME, SHARE, Activation, FlowReport, Layer, num_str

BAR = 40  # columns of the longest bar


# ---------------------------------------------------------------------------
# text


def render_flow_text(r: FlowReport) -> str:
    lines = [_headline(r)]
    sizes = ", ".join(f"{k} = {v}" for k, v in r.sizes.items())
    lines.append(f"  sizes {sizes or '(none)'}" + (f"; time steps {_span(r)} (recurrent: "
                                                    f"{', '.join(m.name for m in r.recurrent)})" if r.kind == "time" else ""))
    lines.extend(f"  note: {n}" for n in r.notes)
    lines.append("")
    where = "each time step" if r.kind == "time" else "each layer"
    lines.append(f"‖∂{r.output}/∂·‖ reaching {where} (median over the points; log scale)")
    lines.extend(_bars(r.layers) or ["  (none: the file names no intermediate value; name one, like `h = f(z)`, "
                                     "to see the gradient reaching it)"])
    if r.parameters:
        lines.append("")
        lines.append(f"‖∂{r.output}/∂·‖ of the parameters")
        w = max(len(p.name) for p in r.parameters)
        lines.extend(f"  {p.name:<{w}}  {num_str(p.norm)}" for p in r.parameters)
    if r.recurrent:
        lines.append("")
        lines.append("recurrent matrices (spectral radius max |λ|, median over the points)")
        for m in r.recurrent:
            lines.append(f"  {m.name}  {num_str(m.radius)}  ({num_str(min(m.radii))} – {num_str(max(m.radii))})")
    if r.chain is not None:
        c = r.chain
        t = c.last
        lines.append("")
        lines.append(f"‖∂{t}/∂{r.series}_k‖ against the distance {_dist(r)} (spectral norm, fitted in log)")
        lines.append(f"  slope {c.slope:+.3g} per step: ×{num_str(c.per_step)} per step back in time, "
                     f"×{c.total_text} over {c.span} steps")
    if r.activations:
        lines.append("")
        lines.append("activations")
        lines.extend(_activation_lines(r.activations))
    lines.append("")
    lines.append("verdicts")
    if not r.verdicts:
        lines.append(f"  healthy: no vanishing or exploding gradient (within ×{FACTOR:g} over the chain), "
                     f"no saturated or dead units (under {SHARE:.0%} of any layer)")
    w = max((len(v.kind) for v in r.verdicts), default=0)
    for v in r.verdicts:
        lines.append(f"  {v.kind.upper():<{w}}  {v.message}")
    return "\n".join(lines) + "\n"


def _headline(r: FlowReport) -> str:
    scale = "".join(f"; {k} scaled ×{v:g}" for k, v in r.scales.items())
    return f"{r.file}: gradient flow of {r.output} at {r.points} points (seed {r.seed}){scale}"


def _span(r: FlowReport) -> str:
    steps = [l for l in r.layers if l.step is not None]
    return f"{steps[0].name}…{steps[-1].name}" if steps else ""


def _dist(r: FlowReport) -> str:
    steps = [l.step for l in r.layers if l.step is not None]
    return f"{max(steps)} − k" if steps else "T − k"


def _bars(layers: list[Layer]) -> list[str]:
    finite = [l.norm for l in layers if math.isfinite(l.norm) and l.norm > 0]
    lo = math.log10(min(finite)) if finite else 0.0
    hi = math.log10(max(finite)) if finite else 0.0
    w = max((len(l.name) for l in layers), default=1)
    out = []
    for l in layers:
        out.append(f"  {l.name:<{w}}  {_bar(l.norm, lo, hi):<{BAR}}  {num_str(l.norm)}")
    if finite:
        out.append(f"  {'':<{w}}  {num_str(min(finite))} … {num_str(max(finite))} ({hi - lo:.1f} decades)")
    return out


def _bar(v: float, lo: float, hi: float) -> str:
    if math.isnan(v) or v <= 0:
        return ""
    if math.isinf(v):
        return "█" * BAR
    frac = 1.0 if hi - lo < 1e-12 else (math.log10(v) - lo) / (hi - lo)
    return "█" * max(1, round(1 + frac * (BAR - 1)))


def _activation_lines(acts: list[Activation]) -> list[str]:
    """One summary line per function; the sites at or over the verdict share by name."""
    out = []
    for fn in sorted({a.function for a in acts}):
        sites = [a for a in acts if a.function == fn]
        what = "dead" if fn == "relu" else f"saturated (f′ < {SATURATED_FPRIME:g})"
        share = [(a.dead if fn == "relu" else a.saturated) or 0.0 for a in sites]
        worst = max(range(len(sites)), key=lambda i: share[i])
        units = sum(a.units for a in sites)
        out.append(f"  {fn}: {len(sites)} site{'s' if len(sites) > 1 else ''}, {units} units; "
                   f"{what}: worst {share[worst]:.0%} at {sites[worst].at}")
        out.extend(f"    {a.at}: {s:.0%} of {a.units} {what}" for a, s in zip(sites, share) if s >= SHARE)
    return out


def print_flow_rich(text: str) -> None:
    """The text with colour: bars cyan, verdicts red (healthy green), headings bold."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for line in text.rstrip("\n").split("\n"):
        t = Text(line)
        if line and not line.startswith(" "):
            t.stylize("bold")
        i = line.find("█")
        if i >= 0:
            t.stylize("cyan", i, line.rfind("█") + 1)
        stripped = line.lstrip()
        word = stripped.split(" ", 1)[0]
        if word in ("VANISHING", "EXPLODING", "SATURATED", "DEAD"):
            start = len(line) - len(stripped)
            t.stylize("bold red", start, start + len(word))
        elif stripped.startswith("healthy:"):
            start = len(line) - len(stripped)
            t.stylize("bold green", start, start + len("healthy"))
        console.print(t)


# ---------------------------------------------------------------------------
# json


def _f(x: float) -> float | None:
    """JSON has no Inf or NaN: a non-finite number (an overflow) is null."""
    return float(x) if math.isfinite(x) else None


def flow_dict(r: FlowReport) -> dict[str, Any]:
    def layer(l: Layer, step: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"name": l.name, "shape": list(l.shape), "norm": _f(l.norm),
                             "min": _f(min(l.norms)), "max": _f(max(l.norms))}
        if step:
            d["step"] = l.step
        return d

    c = r.chain
    return {
        "file": r.file, "output": r.output, "seed": r.seed, "points": r.points, "sizes": r.sizes,
        "scale": r.scales, "bind": r.bind, "kind": r.kind, "series": r.series,
        "norm": "frobenius",
        "layers": [layer(l, True) for l in r.layers],
        "parameters": [layer(p, False) for p in r.parameters],
        "activations": [{"at": a.at, "function": a.function, "units": a.units,
                         "saturated": a.saturated, "dead": a.dead} for a in r.activations],
        "recurrent": [{"name": m.name, "spectral_radius": _f(m.radius), "min": _f(min(m.radii)),
                       "max": _f(max(m.radii))} for m in r.recurrent],
        "jacobian": None if c is None else {
            "last": c.last, "norm": "spectral",
            "steps": [{"name": n, "distance": d, "norm": _f(float(_median(ns)))}
                      for n, d, ns in zip(c.names, c.distances, c.norms)],
            "slope": _f(c.slope), "per_step": _f(c.per_step), "total": _f(c.total), "span": c.span},
        "thresholds": {"factor": FACTOR, "saturated_fprime": SATURATED_FPRIME, "share": SHARE},
        "verdicts": [{"kind": v.kind, "where": v.where, "message": v.message} for v in r.verdicts],
    }


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def render_flow_json(r: FlowReport) -> str:
    return json.dumps(flow_dict(r), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# svg

_FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def render_flow_svg(r: FlowReport) -> str:
    """A standalone SVG: the bar chart (log scale) and, for time steps, the ‖∂h_T/∂h_k‖ fit."""
    n = max(1, len(r.layers))
    width = max(900, 100 + 16 * n)
    plot_h = 260
    notes = [(_colour(v.kind), f"{v.kind.upper()}: {v.message}") for v in r.verdicts] or \
        [("#1a7f37", "healthy: no vanishing or exploding gradient, no saturated or dead units")]
    lines: list[tuple[str, str]] = []
    for colour, msg in notes:
        lines.extend((colour, part) for part in _wrap(msg, (width - 40) // 7))
    text = [f'<text x="20" y="{48 + 17 * i}" font-size="13" fill="{c}">{escape(t)}</text>'
            for i, (c, t) in enumerate(lines)]
    top = 48 + 17 * len(lines) + 20
    where = "each time step" if r.kind == "time" else "each layer" if r.layers else "each parameter"
    panels = [_title(20, top, f"the gradient of {r.output} reaching {where} (median over the points)"),
              _bar_panel(r, 80, top + 20, width - 110, plot_h)]
    height = top + 20 + plot_h + 95
    if r.chain is not None:
        panels.append(_title(20, height, f"‖∂{r.chain.last}/∂{r.series}_k‖ against {_dist(r)} "
                                         "(spectral norm, median over the points) and its log-linear fit"))
        panels.append(_chain_panel(r, 80, height + 20, width - 110, plot_h))
        height += 20 + plot_h + 50
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="20" y="26" font-size="16" font-weight="bold">{escape(_headline(r))}</text>',
        *text, *panels, "</svg>", ""])


def _title(x: float, y: float, text: str) -> str:
    return f'<text x="{x}" y="{y}" font-size="14" font-weight="bold">{escape(text)}</text>'


def _wrap(text: str, width: int) -> list[str]:
    """Split a verdict at its clauses ("; ") to fit the plot's width."""
    out = [""]
    for part in text.split("; "):
        if out[-1] and len(out[-1]) + len(part) + 2 > width:
            out[-1] += ";"
            out.append("    " + part)
        else:
            out[-1] = f"{out[-1]}; {part}" if out[-1] else part
    return out


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(k: int) -> str:
    return "1" if k == 0 else "10" if k == 1 else "10" + str(k).translate(_SUP)


def _colour(kind: str) -> str:
    return {"exploding": "#cf222e", "vanishing": "#8250df", "saturated": "#bc4c00", "dead": "#57606a"}.get(kind, "#000")


def _decades(values: list[float]) -> tuple[int, int]:
    finite = [v for v in values if math.isfinite(v) and v > 0]
    if not finite:
        return -1, 1
    lo, hi = math.floor(math.log10(min(finite))), math.ceil(math.log10(max(finite)))
    return (lo - 1, hi + 1) if lo == hi else (lo, hi)


def _axes(x: float, y: float, w: float, h: float, lo: int, hi: int, ylabel: str, xlabel: str,
          xgap: float = 58) -> list[str]:
    out = [f'<line x1="{x}" y1="{y + h}" x2="{x + w}" y2="{y + h}" stroke="black"/>',
           f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + h}" stroke="black"/>']
    step = max(1, math.ceil((hi - lo) / 10))
    for k in range(lo, hi + 1, step):
        ty = y + h - (k - lo) / (hi - lo) * h
        out.append(f'<line x1="{x - 4}" y1="{ty:.1f}" x2="{x + w}" y2="{ty:.1f}" stroke="#d0d7de" stroke-width="0.5"/>')
        out.append(f'<text x="{x - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end">{_power(k)}</text>')
    out.append(f'<text x="{x - 56}" y="{y + h / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 {x - 56} {y + h / 2})">{escape(ylabel)}</text>')
    out.append(f'<text x="{x + w / 2}" y="{y + h + xgap}" font-size="12" text-anchor="middle">{escape(xlabel)}</text>')
    return out


def _bar_panel(r: FlowReport, x: float, y: float, w: float, h: float) -> str:
    items = r.layers or r.parameters  # a file that names no layer: its parameters' gradients
    norms = [l.norm for l in items]
    lo, hi = _decades(norms)
    where = "time step" if r.kind == "time" else "layer" if r.layers else "parameter"
    out = ['<g class="norms">', *_axes(x, y, w, h, lo, hi, f"‖∂{r.output}/∂·‖ (median)", where)]
    n = max(1, len(items))
    slot = w / n
    for i, l in enumerate(items):
        v = l.norm
        bw = min(slot * 0.7, 48.0)
        bx = x + (i + 0.5) * slot - bw / 2
        if math.isfinite(v) and v > 0:
            top = y + h - (math.log10(v) - lo) / (hi - lo) * h
            fill = "#0969da"
        elif math.isinf(v):
            top, fill = y, "#cf222e"
        else:
            top, fill = y + h, "none"
        out.append(f'<rect x="{bx:.1f}" y="{top:.1f}" width="{bw:.1f}" height="{y + h - top:.1f}" '
                   f'fill="{fill}"><title>{escape(l.name)}: {escape(num_str(v))}</title></rect>')
        lx, ly = x + (i + 0.5) * slot, y + h + 12
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="end" '
                   f'transform="rotate(-60 {lx:.1f} {ly:.1f})">{escape(l.name)}</text>')
    out.append("</g>")
    return "\n".join(out)


def _chain_panel(r: FlowReport, x: float, y: float, w: float, h: float) -> str:
    c = r.chain
    assert c is not None
    meds = [_median(ns) for ns in c.norms]
    lo, hi = _decades(meds + [1.0])
    span = max(1, c.span)
    out = ['<g class="jacobian">', *_axes(x, y, w, h, lo, hi, f"‖∂{c.last}/∂{r.series}_k‖", _dist(r), 36)]

    def px(d: float) -> float:
        return x + d / span * w

    def py(log10v: float) -> float:
        return y + h - (min(max(log10v, lo), hi) - lo) / (hi - lo) * h

    for k in range(0, span + 1, max(1, math.ceil(span / 10))):
        out.append(f'<text x="{px(k):.1f}" y="{y + h + 16}" font-size="11" text-anchor="middle">{k}</text>')
    for d, v, name in zip(c.distances, meds, c.names):
        if math.isfinite(v) and v > 0:
            out.append(f'<circle cx="{px(d):.1f}" cy="{py(math.log10(v)):.1f}" r="3" fill="#0969da">'
                       f'<title>{escape(name)}: {escape(num_str(v))}</title></circle>')
    if math.isfinite(c.slope):
        s10 = c.slope / math.log(10)
        b10 = c.intercept / math.log(10)
        out.append(f'<line x1="{px(0):.1f}" y1="{py(b10):.1f}" x2="{px(span):.1f}" y2="{py(b10 + s10 * span):.1f}" '
                   f'stroke="#cf222e" stroke-dasharray="5,3"/>')
        out.append(f'<text x="{x + w - 4}" y="{y + 16}" font-size="12" text-anchor="end" fill="#cf222e">'
                   f'fit: ×{escape(num_str(c.per_step))} per step</text>')
    out.append("</g>")
    return "\n".join(out)
