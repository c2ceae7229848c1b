"""Render each seed report as the files reports really arrive in: .docx, text PDF, scanned PDF.

For every examples/reports/<stem>.txt this writes tests/fixtures/docs/<stem>.docx (python-docx, real
tables with merged cells laid out like the national template), <stem>.pdf (a text PDF printed by
headless Chromium from the same layout, with ruled tables, page numbers and a CJK font) and
<stem>.scan.pdf (the text PDF's pages rasterised with mild noise, a slight skew and a red seal).
The tables hold the gold values (tests/fixtures/<stem>.gold.json; null is a blank cell) and the
prose is the seed's own, so extracting a fixture must give back exactly the gold cells.

Rebuild with `make fixtures` (needs chromium and fonts-noto-cjk: `make system-deps`). The output
is committed, so tests never render anything.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import random
import re
from pathlib import Path

import numpy as np
from docx import Document as new_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from PIL import Image, ImageDraw, ImageFilter

from nianbao import spec

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "examples" / "reports"
GOLD = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "fixtures" / "docs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

T3_HEADER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
T3_GROUP = "三、本年度办理结果"
T3_COLUMNS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
T4_COLUMNS = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]

# A cell: (text, rowspan, colspan); None marks a position covered by a merged cell.
Cell = tuple[str, int, int]
Grid = list[list[Cell | None]]


def fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------- seed → blocks

HEADINGS = {
    "t2": lambda s: s.startswith("二、") and "主动公开" in s,
    "t3": lambda s: s.startswith("三、") and "申请" in s and "数量" not in s,
    "t4": lambda s: s.startswith("四、") and ("复议" in s or "诉讼" in s),
    "rest": lambda s: s.startswith("五、"),
}


def blocks(seed: str, gold: dict) -> list[tuple[str, object]]:
    """The report as ("title"|"heading"|"para", text) and ("table", Grid) blocks in order."""
    template = gold["meta"]["template"]
    lines = [re.sub(r"^#+\s*", "", ln).strip() for ln in seed.splitlines()]
    lines = [ln for ln in lines if ln and not re.fullmatch(r"[-|\s]+", ln)]
    out: list[tuple[str, object]] = [("title", lines[0])]
    section = "prose"
    for ln in lines[1:]:
        found = next((k for k, test in HEADINGS.items() if "\t" not in ln and "|" not in ln and test(ln)), None)
        if found in ("t2", "t3", "t4"):
            section = found
            out.append(("heading", ln))
            out.extend(("table", g) for g in TABLES[found](gold["cells"], template))
            continue
        if found == "rest":
            section = "prose"
        if section == "prose":
            kind = "heading" if re.match(r"^[一二三四五六七八九十]+、", ln) and len(ln) < 40 else "para"
            out.append((kind, ln))
    return out


def table2(cells: dict, template: str) -> list[Grid]:
    """Table 二 as the template prints it: one block per 第二十条 item, with its own header row."""
    grid: Grid = []
    sections: dict[str, list[spec.Row]] = {}
    for row in spec.rows(template):
        if row.table == "t2":
            sections.setdefault(row.section, []).append(row)
    width = 1 + max(len(r.fields) for rows in sections.values() for r in rows)
    for section, rows in sections.items():
        grid.append([(section, 1, width)] + [None] * (width - 1))
        heads = [f.label.split(" ", 2)[2] for f in rows[0].fields]
        grid.append(_spread(["信息内容"] + heads, width))
        for row in rows:
            grid.append(_spread([row.label] + [fmt(cells.get(f.key)) for f in row.fields], width))
    return [grid]


def _spread(texts: list[str], width: int) -> list[Cell | None]:
    """Cells across the table's width; the last one spans what is left."""
    cells: list[Cell | None] = [(t, 1, 1) for t in texts[:-1]]
    last = width - len(cells)
    cells.append((texts[-1], 1, last))
    cells.extend([None] * (last - 1))
    return cells


def table3(cells: dict, template: str) -> list[Grid]:
    rows = [r for r in spec.rows(template) if r.table == "t3"]
    grid: Grid = [
        [(T3_HEADER, 3, 3), None, None, ("申请人情况", 1, 7)] + [None] * 6,
        [None, None, None, ("自然人", 2, 1), ("法人或其他组织", 1, 5), None, None, None, None, ("总计", 2, 1)],
        [None, None, None, None] + [(c, 1, 1) for c in T3_COLUMNS[1:6]] + [None],
    ]
    inner = [r for r in rows if not re.match(r"^[一二四]、", r.label)]
    parents: dict[str, int] = {}
    for r in inner:
        if r.parent:
            parents[r.parent] = parents.get(r.parent, 0) + 1
    seen_group = False
    seen_parents: set[str] = set()
    for r in rows:
        values: list[Cell | None] = [(fmt(cells.get(f.key)), 1, 1) for f in r.fields]
        if re.match(r"^[一二四]、", r.label):
            grid.append([(r.label, 1, 3), None, None] + values)
            continue
        lead: list[Cell | None] = [(T3_GROUP, len(inner), 1)] if not seen_group else [None]
        seen_group = True
        if r.parent:
            lead.append((r.parent, parents[r.parent], 1) if r.parent not in seen_parents else None)
            seen_parents.add(r.parent)
            lead.append((r.label, 1, 1))
        else:
            lead += [(r.label, 1, 2), None]
        grid.append(lead + values)
    return [grid]


def table4(cells: dict, template: str) -> list[Grid]:
    head2: list[Cell | None] = [(c, 2, 1) for c in T4_COLUMNS]
    head2 += [("未经复议直接起诉", 1, 5), None, None, None, None, ("复议后起诉", 1, 5), None, None, None, None]
    grid: Grid = [
        [("行政复议", 1, 5), None, None, None, None, ("行政诉讼", 1, 10)] + [None] * 9,
        head2,
        [None] * 5 + [(c, 1, 1) for c in T4_COLUMNS] * 2,
        [(fmt(cells.get(f"t4.{g}.{c}")), 1, 1) for g in spec.T4_GROUPS for c in spec.T4_COLUMNS],
    ]
    return [grid]


TABLES = {"t2": table2, "t3": table3, "t4": table4}


# ---------------------------------------------------------------- .docx

def _cell_font(paragraph, size: float) -> None:
    for run in paragraph.runs:
        run.font.size = Pt(size)
        run.font.name = "Noto Serif CJK SC"
        run._element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Serif CJK SC")


def write_docx(blocks_: list[tuple[str, object]], path: Path) -> None:
    doc = new_docx()
    for kind, content in blocks_:
        if kind == "table":
            grid: Grid = content  # type: ignore[assignment]
            ncols = len(grid[0])
            table = doc.add_table(rows=len(grid), cols=ncols)
            table.style = "Table Grid"
            for r, row in enumerate(grid):
                for c, cell in enumerate(row):
                    if cell is None:
                        continue
                    text, rowspan, colspan = cell
                    target = table.cell(r, c)
                    if rowspan > 1 or colspan > 1:
                        target = target.merge(table.cell(r + rowspan - 1, c + colspan - 1))
                    target.text = text
                    _cell_font(target.paragraphs[0], 9)
            doc.add_paragraph()
        else:
            p = doc.add_paragraph(str(content))
            if kind == "title":
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _cell_font(p, 16 if kind == "title" else 12)
            if kind == "heading":
                for run in p.runs:
                    run.bold = True
    _page_number_footer(doc)
    doc.save(path)


def _page_number_footer(doc) -> None:
    """A PAGE field in the footer, as real reports have (readers must not take it for text)."""
    p = doc.sections[0].footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    for tag, attr in (("w:fldChar", "begin"), ("w:instrText", None), ("w:fldChar", "end")):
        el = OxmlElement(tag)
        if attr:
            el.set(qn("w:fldCharType"), attr)
        else:
            el.text = "PAGE"
        run._element.append(el)


# ---------------------------------------------------------------- text PDF (Chromium)

CSS = """
@page { size: A4; margin: 22mm 20mm 22mm 20mm; }
body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 12pt; line-height: 1.6; }
h1 { font-size: 18pt; text-align: center; font-weight: bold; margin: 0 0 12pt; }
h2 { font-size: 13pt; font-weight: bold; margin: 10pt 0 4pt; text-indent: 2em; }
p { text-indent: 2em; margin: 0; text-align: justify; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 10pt; font-size: 9pt; line-height: 1.3; }
td { border: 0.8pt solid #000; padding: 3pt 2pt; text-align: center; vertical-align: middle; }
td.label { text-align: left; }
"""


def to_html(blocks_: list[tuple[str, object]]) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head><body>"]
    for kind, content in blocks_:
        if kind == "title":
            parts.append(f"<h1>{html.escape(str(content))}</h1>")
        elif kind == "heading":
            parts.append(f"<h2>{html.escape(str(content))}</h2>")
        elif kind == "para":
            parts.append(f"<p>{html.escape(str(content))}</p>")
        else:
            parts.append("<table>")
            for row in content:  # type: ignore[union-attr]
                parts.append("<tr>")
                for cell in row:
                    if cell is None:
                        continue
                    text, rs, cs = cell
                    cls = " class='label'" if text and not re.match(r"^[\d.]*$", text) and len(text) > 8 else ""
                    parts.append(f"<td rowspan={rs} colspan={cs}{cls}>{html.escape(text)}</td>")
                parts.append("</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def write_pdfs(pages: list[tuple[str, Path]]) -> None:
    from playwright.sync_api import sync_playwright

    footer = "<div style='width:100%;text-align:center;font-size:9pt'>- <span class='pageNumber'></span> -</div>"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for markup, path in pages:
            page.set_content(markup)
            page.pdf(path=str(path), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>", footer_template=footer,
                     margin={"top": "22mm", "bottom": "22mm", "left": "20mm", "right": "20mm"})
        browser.close()


# ---------------------------------------------------------------- scanned PDF

def scan(pdf_path: Path, out: Path, seed: int, dpi: int = 120) -> None:
    """Rasterise pages with mild noise, a slight skew and a red seal, as a scanner would."""
    import pypdfium2 as pdfium

    rng = random.Random(seed)
    doc = pdfium.PdfDocument(str(pdf_path))
    images = []
    for i in range(len(doc)):
        img = doc[i].render(scale=dpi / 72).to_pil().convert("RGB")
        if i == len(doc) - 1:
            img = _stamp(img, rng)
        img = img.rotate(rng.uniform(-0.8, 0.8), resample=Image.BICUBIC, fillcolor=(255, 255, 255))
        arr = np.asarray(img).astype(np.int16)
        rng_np = np.random.default_rng(seed + i)
        noise = rng_np.normal(0, 2.5, arr.shape[:2])[..., None]
        specks = rng_np.random(arr.shape[:2]) < 0.002  # dust: dark specks a scanner glass leaves
        arr = np.clip(arr + noise, 0, 255)
        arr[specks] = 60
        arr = arr.astype(np.uint8)
        img = Image.fromarray(arr).filter(ImageFilter.GaussianBlur(0.3))
        images.append(img if i == len(doc) - 1 else img.convert("L"))  # only the sealed page in colour
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=dpi, quality=40)
    out.write_bytes(buf.getvalue())


def _stamp(img: Image.Image, rng: random.Random) -> Image.Image:
    """A translucent red seal: a ring, a star and a few strokes, over the last page's text."""
    w, h = img.size
    r = int(w * 0.11)
    cx, cy = int(w * rng.uniform(0.55, 0.7)), int(h * rng.uniform(0.25, 0.45))
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    red = (220, 30, 30, 150)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=max(3, r // 14))
    star = [(cx + r * 0.35 * np.cos(a), cy + r * 0.35 * np.sin(a)) for a in _star_angles()]
    d.polygon(star, fill=red)
    for k in range(5):
        y = cy + r * 0.5 + k * 3
        d.line((cx - r * 0.5, y, cx + r * 0.5, y), fill=red, width=2)
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _star_angles():
    import math

    return [(-math.pi / 2) + k * 4 * math.pi / 5 for k in range(5)]



# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stems", nargs="*", help="seed stems (default: every seed)")
    ap.add_argument("--skip-pdf", action="store_true", help="only write the .docx files")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stems = args.stems or sorted(p.stem for p in SEEDS.glob("*.txt"))
    htmls = []
    for i, stem in enumerate(stems):
        seed = (SEEDS / f"{stem}.txt").read_text(encoding="utf-8")
        gold = json.loads((GOLD / f"{stem}.gold.json").read_text(encoding="utf-8"))
        bl = blocks(seed, gold)
        write_docx(bl, OUT / f"{stem}.docx")
        htmls.append((to_html(bl), OUT / f"{stem}.pdf", i))
        print("wrote", OUT / f"{stem}.docx")
    if args.skip_pdf:
        return
    write_pdfs([(h, p) for h, p, _ in htmls])
    for _, path, i in htmls:
        scan(path, path.with_suffix(".scan.pdf"), seed=i)
        print("wrote", path, path.with_suffix(".scan.pdf"))


if __name__ == "__main__":
    main()
