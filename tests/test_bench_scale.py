"""Smoke test of benches/scale.py: a --quick run without anchors writes every section's rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benches" / "scale.py"


def test_quick_run_writes_all_sections(tmp_path):
    out = tmp_path / "scale.jsonl"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--no-anchors", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_section = {s: [r for r in rows if r["section"] == s] for s in {r["section"] for r in rows}}
    assert len(by_section["machine"]) == 1
    assert {(r["qubits"], r["precision"]) for r in by_section["forward"]} == {
        (n, prec) for n in (12, 16) for prec in ("c128", "c64")
    }
    assert all(r["agrees"] and r["impl"] == "qoxide" for r in by_section["forward"])
    assert {r["gate"] for r in by_section["gates"]} == {"RX", "RY", "RZ", "H", "CNOT", "CZ"}
    assert {r["impl"] for r in by_section["jacobian"]} == {"qoxide", "qoxide fusion off"}
    assert all(r["agrees"] for r in by_section["jacobian"])
    assert [r["precision"] for r in by_section["rss"]] == ["c128", "c64"]
    assert all(r["extra_over_state"] > 0.5 for r in by_section["rss"])
