"""Every ```python block in README.md and docs/ runs.

The blocks of one page run in order in one namespace (later blocks use earlier names), in a
temporary directory. A block right after a ``<!-- no-test -->`` line is not run (shell
sessions, torchrun scripts). The API reference pages (``docs/reference``) hold no code.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import qoxide as qx

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIP = "<!-- no-test -->"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def pages() -> list[Path]:
    found = [ROOT / "README.md"]
    if DOCS.is_dir():
        found += sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.parts)
    return [p for p in found if p.is_file()]


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, runs) of every ```python block, in order."""
    blocks = []
    for m in FENCE.finditer(text):
        if m.group(1) != "python":
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((line, m.group(2), before != SKIP))
    return blocks


def test_block_extraction():
    text = (
        "intro\n```python\nx = 1\n```\n<!-- no-test -->\n```python\nraise SystemExit\n```\n"
        '```bash\nls\n```\n```python title="a.py"\ny = x + 1\n```\n'
    )
    blocks = python_blocks(text)
    assert [(line, runs) for line, _, runs in blocks] == [(2, True), (6, False), (12, True)]
    assert blocks[2][1] == "y = x + 1\n"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path, monkeypatch):
    text = page.read_text()
    blocks = python_blocks(text)
    # every ```python fence was parsed (none hidden by an unclosed or indented fence)
    assert len(blocks) == text.count("```python")
    runnable = [(line, code) for line, code, runs in blocks if runs]
    if not runnable:
        pytest.skip(f"{page.name} has no runnable python blocks")
    if any("import pennylane" in code for _, code in runnable):
        pytest.importorskip("pennylane")
    monkeypatch.chdir(tmp_path)
    threads, fusion, lanes = qx.get_num_threads(), qx.fusion_enabled(), qx.batch_lanes_enabled()
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    out = io.StringIO()
    try:
        for line, code in runnable:
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
                except Exception as e:
                    raise AssertionError(
                        f"{page.relative_to(ROOT)} block at line {line} failed: {e!r}\n"
                        f"printed so far:\n{out.getvalue()}"
                    ) from e
    finally:
        qx.set_num_threads(threads)
        qx.set_fusion(fusion)
        qx.set_batch_lanes(lanes)
    assert out.getvalue().strip(), f"{page.name}: the examples print nothing"
