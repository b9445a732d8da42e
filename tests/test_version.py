"""The version has one source, ``[workspace.package] version`` in Cargo.toml: the native
module, ``qoxide.__version__`` and the installed package's metadata all report it."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
import qoxide
from qoxide import _core

ROOT = Path(__file__).resolve().parent.parent


def test_python_version_is_the_native_modules():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", qoxide.__version__)
    assert qoxide.__version__ == _core.__version__


def test_metadata_version_matches():
    try:
        installed = importlib.metadata.version("qoxide")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("qoxide is not installed (run from the source tree)")
    assert installed == qoxide.__version__


def test_version_comes_from_the_cargo_workspace():
    cargo = ROOT / "Cargo.toml"
    if not cargo.is_file():
        pytest.skip("not a source checkout")
    workspace = tomllib.loads(cargo.read_text())["workspace"]["package"]["version"]
    assert qoxide.__version__ == workspace
    # nobody else pins a version: the crates inherit it, the Python project asks maturin
    for crate in ("rust/core/Cargo.toml", "rust/python/Cargo.toml"):
        assert tomllib.loads((ROOT / crate).read_text())["package"]["version"] == {
            "workspace": True
        }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
