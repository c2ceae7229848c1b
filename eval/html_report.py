"""One self-contained HTML page of an eval: figures, inline SVG charts, wrong cells linked to the source.

No CDN, no script: CSS and SVG are inline so the page can be mailed or archived. Report text is
untrusted, so every piece of it goes through Jinja's autoescape; the source view marks each wrong
cell's span with an anchor the error list links to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from nianbao.eval.harness import BackendRun, Case
from nianbao.eval.terminal import FIGURES, fmt

PALETTE = ("#3b6ea8", "#d9822b", "#4c9a5b", "#a8473b", "#7a5ca8")
MAX_SOURCES = 40  # reports whose source text is embedded (those with errors first)


def bar_chart(series: dict[str, dict[str, float]], title: str, width: int = 640) -> Markup:
    """Grouped horizontal bars: group → {backend: fraction}, fractions drawn 0–100%."""
    backends = sorted({b for vals in series.values() for b in vals})
    bar_h, gap, left = 18, 14, 170
    height = 30 + len(series) * (len(backends) * bar_h + gap) + 20
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="0" y="16" class="ct">{escape(title)}</text>']
    y = 30
    span = width - left - 120
    for group, vals in series.items():
        out.append(f'<text x="0" y="{y + bar_h - 4}" class="cl">{escape(group)}</text>')
        for i, b in enumerate(backends):
            v = vals.get(b)
            w = 0 if v is None else max(1.0, span * v)
            color = PALETTE[i % len(PALETTE)]
            out.append(f'<rect class="bar" data-backend="{escape(b)}" data-group="{escape(group)}" x="{left}" '
                       f'y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{color}"/>')
            label = "—" if v is None else f"{100 * v:.1f}%"
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 5}" class="cv">{escape(b)} {label}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    return Markup("".join(out))


def marked_source(text: str, spans: list[tuple[int, int, str]]) -> Markup:
    """Escaped source text with <mark id=…> around each (start, end, anchor) span."""
    out: list[str] = []
    pos = 0
    for start, end, anchor in sorted(s for s in spans if 0 <= s[0] <= s[1] <= len(text)):
        if start < pos:
            continue
        out.append(str(escape(text[pos:start])))
        out.append(f'<mark id="{escape(anchor)}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def _source_text(case: Case) -> str:
    try:
        from nianbao.extract import read_document

        return read_document(case.path).text
    except Exception as e:  # the page still renders without one report's source
        return f"(source not readable: {type(e).__name__})"


def build_context(runs: list[BackendRun], cases: dict[str, Case]) -> dict[str, Any]:
    overall = {label.strip(): {r.backend: r.summary.get(name) for r in runs}
               for name, label, kind in FIGURES if kind == "pct"}
    per_table = {f"table {t}": {r.backend: r.summary.get("cell_accuracy_by_table", {}).get(k) for r in runs}
                 for k, t in (("t2", "二"), ("t3", "三"), ("t4", "四"))}
    figures = [(label.strip(), [fmt(r.summary.get("cell_accuracy_by_table", {}).get(name) if kind == "table"
                                     else r.summary.get(name), kind) for r in runs])
               for name, label, kind in FIGURES]
    errors = []
    spans: dict[str, list[tuple[int, int, str]]] = {}
    # anchors are numbered: report names and keys are untrusted text, ids must stay plain
    ids = {name: i for i, name in enumerate(cases)}
    for r in runs:
        for s in r.scores:
            src = f"src-{ids.get(s.name, 0)}"
            for w in s.wrong:
                anchor = src if not w.span else f"at-{len(errors)}"
                if w.span:
                    spans.setdefault(s.name, []).append((int(w.span[0]), int(w.span[1]), anchor))
                errors.append({"backend": r.backend, "report": s.name, "key": w.key, "gold": w.gold,
                               "got": w.got, "anchor": anchor})
            for m in s.missed:
                errors.append({"backend": r.backend, "report": s.name, "key": f"missed finding {m}",
                               "gold": "", "got": "", "anchor": src})
            for fp in s.false_pos:
                errors.append({"backend": r.backend, "report": s.name, "key": f"false positive {fp}",
                               "gold": "", "got": "", "anchor": src})
    wanted = list(dict.fromkeys(e["report"] for e in errors))[:MAX_SOURCES]
    sources = [{"name": n, "id": f"src-{ids[n]}", "html": marked_source(_source_text(cases[n]), spans.get(n, []))}
               for n in wanted if n in cases]
    shown = {s["name"] for s in sources}
    for e in errors:
        e["linked"] = e["report"] in shown
    return {"backends": [r.backend for r in runs], "figures": figures,
            "chart_overall": bar_chart(overall, "accuracy per backend"),
            "chart_tables": bar_chart(per_table, "cell accuracy per table"),
            "errors": errors[:2000], "errors_total": len(errors), "sources": sources,
            "reports": len(cases)}


def write_html(path: Path, runs: list[BackendRun], cases: dict[str, Case]) -> None:
    env = Environment(loader=PackageLoader("nianbao.eval", "templates"), autoescape=select_autoescape(["html"]))
    page = env.get_template("report.html").render(**build_context(runs, cases))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
