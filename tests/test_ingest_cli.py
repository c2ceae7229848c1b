"""`nianbao extract` over a batch with bad files: one line per bad file, exit 2, the rest still done."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from nianbao.app.cli import app

GOOD = (
    "某镇2023年政府信息公开工作年度报告\n一、总体情况\n全年共发布信息１２条。\n"
    "一、本年新收政府信息公开申请数量\t6\t0\t0\t0\t0\t0\t6\n"
)


def test_bad_files_get_one_line_each_and_the_batch_goes_on(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(GOOD.encode("gb18030"))
    page = tmp_path / "page.html"
    page.write_bytes(f"<html><body><p>{GOOD}</p></body></html>".encode())
    bad = {
        "empty.txt": b"",
        "random[b].txt": random.Random(5).randbytes(3000),
        "png.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(6).randbytes(500),
        "mojibake.txt": b"\x80\xff".join(w.encode() for w in GOOD.split("、")) * 30,
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    files = [str(tmp_path / n) for n in ["empty.txt", "good.txt", "random[b].txt", "png.txt", "page.html", "mojibake.txt"]]
    result = CliRunner().invoke(app, ["extract", *files, "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == len(bad)
    for name in bad:
        assert sum(name in ln for ln in lines) == 1, (name, lines)  # the name printed as written
    written = sorted(p.name for p in out.iterdir())
    assert written == ["good.json", "page.json"]
    for name in written:
        assert json.loads((out / name).read_text("utf-8"))["report"] in ("good.txt", "page.html")
