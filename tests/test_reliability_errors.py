"""Issue 16, Python-side unclear errors: each names the argument, the bad value and what
is accepted, and is raised before any work (training) is done."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import qoxide as qx
import torch

CONFIG = Path(__file__).parents[1] / "examples" / "hsm" / "config.json"


@qx.circuit(n_qubits=3)
def three_features(q, x, w):
    for i in range(3):
        q.ry(x[i], i)
    q.rx(w[0], 0)
    return [q.expval(qx.Z(i)) for i in range(3)]


# circuit inputs and weights ------------------------------------------------------------------
@pytest.mark.parametrize("x", [torch.randn(5, 2), np.zeros(2), torch.zeros(4, 7, 2)])
def test_too_few_input_features_names_the_index_and_the_count(x: object) -> None:
    w = torch.zeros(1) if isinstance(x, torch.Tensor) else np.zeros(1)
    with pytest.raises(IndexError) as info:
        three_features(x, w)
    message = str(info.value)
    assert "x[2]" in message and "2 features" in message, message
    assert "three_features" in message, message


def test_weight_indexed_out_of_range_names_the_weight() -> None:
    with pytest.raises(IndexError, match=r"uses w\[0\], but weight 'w' has shape \(0,\)"):
        three_features(np.zeros(3), np.zeros(0))


def test_zero_d_input_indexed_by_the_circuit() -> None:
    with pytest.raises(TypeError) as info:
        three_features(torch.tensor(0.5), torch.zeros(1))
    message = str(info.value)
    assert "0-d" in message and "x" in message and "[F]" in message, message


def test_zero_d_input_used_as_a_scalar_still_works() -> None:
    @qx.circuit(n_qubits=1)
    def scalar(q, x):
        q.ry(x, 0)
        return q.expval(qx.Z(0))

    assert float(scalar(np.array(0.3))) == pytest.approx(np.cos(0.3))


@pytest.mark.parametrize("bad", [0, 1.5, -1, (2, 0), (2, 1.5), "3", True, None, (2, -3)])
def test_quantum_layer_refuses_bad_weight_shapes(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        qx.nn.QuantumLayer(three_features, weight_shapes={"w": bad})
    message = str(info.value)
    assert "weight_shapes['w']" in message and repr(bad) in message, message
    assert "positive int" in message, message


@pytest.mark.parametrize("good", [1, (1,), [2], np.int64(3), (np.int32(3),)])
def test_quantum_layer_accepts_int_shapes(good: object) -> None:
    layer = qx.nn.QuantumLayer(three_features, weight_shapes={"w": good})
    assert layer(torch.zeros(2, 3)).shape == (2, 3)


# HSM -------------------------------------------------------------------------------------------
def _config(**changes: object) -> dict:
    cfg = json.loads(CONFIG.read_text())
    cfg.update(epochs=1, input_operator_count=3, hilbert_space_dims=4, batch_size=8)
    cfg.update(changes)
    return cfg


def _frame():  # noqa: ANN202
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(40, 4)), columns=["a", "b", "c", "target"])


def test_hsm_string_column_is_named() -> None:
    frame = _frame()
    frame["b"] = ["x"] * len(frame)
    frame["b"] = frame["b"].astype("string")
    with pytest.raises(ValueError, match=r"\['b'\].*not numeric"):
        qx.hsm.fit(frame, _config(), progress=False)
    frame["b"] = ["x"] * len(frame)  # object dtype
    with pytest.raises(ValueError, match=r"\['b'\].*not numeric"):
        qx.hsm.fit(frame, _config(), progress=False)


def test_hsm_header_only_csv(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    _frame().head(0).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"header.csv.*no data rows"):
        qx.hsm.fit(path, _config(), progress=False)
    path.write_text("")
    with pytest.raises(ValueError, match=r"header.csv.*empty"):
        qx.hsm.fit(path, _config(), progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_hsm_cuda_without_gpu() -> None:
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA.*'cpu'"):
        qx.hsm.fit(_frame(), _config(device="cuda"), progress=False)


@pytest.mark.parametrize("where", ["scheduler", "early_stopping"])
def test_hsm_monitor_typo_is_refused_before_training(where: str) -> None:
    cfg = _config()
    if where == "scheduler":
        cfg["scheduler_config"]["params"]["monitor"] = "val_los"
    else:
        cfg["early_stopping_config"]["monitor"] = "val_los"
    with pytest.raises(ValueError, match=r"'val_los'.*val_loss"):
        qx.hsm.parse_config(cfg)


def test_hsm_accuracy_monitor_needs_a_classification_loss() -> None:
    cfg = _config()
    cfg["early_stopping_config"]["monitor"] = "val_accuracy"
    cfg["early_stopping_config"]["mode"] = "max"
    with pytest.raises(ValueError, match=r"val_accuracy.*classification"):
        qx.hsm.parse_config(cfg)


def _cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from qoxide.cli import main

    code = main(["hsm", *argv])
    return code, capsys.readouterr().err


def test_hsm_cli_csv_as_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    _frame().to_csv(data, index=False)
    code, err = _cli(
        ["train", str(data), "--config", str(data), "--out", str(tmp_path / "o")], capsys
    )
    assert code != 0
    assert "data.csv" in err and "JSON" in err and "--config" in err, err


def test_hsm_cli_unwritable_out_is_found_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qoxide.hsm import training

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(training, "fit", no_training)
    data = tmp_path / "data.csv"
    _frame().to_csv(data, index=False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config()))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, err = _cli(
        ["train", str(data), "--config", str(config), "--out", str(blocker / "sub")], capsys
    )
    assert code != 0
    assert "--out" in err and str(blocker / "sub") in err, err
