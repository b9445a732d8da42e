"""Qcog-style configs, ``qx.hsm.fit`` on tables, save/load, and the ``qoxide hsm`` CLI."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError
from qoxide.hsm import GeneralHSM
from qoxide.hsm.cli import main as hsm_main
from qoxide.hsm.config import (
    GeneralHSModelHyperparameters,
    LossFunctionConfig,
    OptimizerConfig,
    PauliHSModelHyperparameters,
    PerGroupOptimizerParams,
    SchedulerConfig,
    parse_config,
)
from qoxide.hsm.training import fit, load

EXAMPLES = Path(__file__).parent.parent / "examples" / "hsm"


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Training steps here are tiny; torch's OpenMP barriers cost milliseconds per op on a
    loaded two-core machine, so run torch single-threaded (the Rust pool is unaffected)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    frame = pd.DataFrame(x * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0], columns=["a", "b", "c"])
    frame["y"] = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 100.0
    frame["z"] = x[:, 0] - x[:, 2]
    frame["y_pos"] = (x[:, 0] > 0).astype(float)  # one-hot classes for CrossEntropyLoss
    frame["y_neg"] = 1.0 - frame["y_pos"]
    return frame


def config(**overrides) -> dict:
    base = {
        "hsm_model": "general",
        "input_operator_count": 3,
        "output_operator_count": 1,
        "hilbert_space_dims": 4,
        "targets": "y",
        "input_features": ["a", "b", "c"],
        "epochs": 3,
        "batch_size": 32,
        "optimizer_config": {"type": "Adam", "default_params": {"lr": 0.05}},
        "loss_fn_config": {"type": "MSELoss"},
    }
    base.update(overrides)
    return base


def pauli_config(**overrides) -> dict:
    base = config(qubits_count=2, input_operator_pauli_weight=1, output_operator_pauli_weight=2)
    base["hsm_model"] = "pauli"
    del base["hilbert_space_dims"]
    base.update(overrides)
    return base


OPT = OptimizerConfig(type="Adam")
LOSS = LossFunctionConfig(type="MSELoss")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: GeneralHSModelHyperparameters(
                **config(input_operator_count=2, optimizer_config=OPT, loss_fn_config=LOSS)
            ),
            r"input_operator_count \(2\) must match the number of input features \(3\)",
        ),
        (
            lambda: GeneralHSModelHyperparameters(**config(output_operator_count=2)),
            r"output_operator_count \(2\) must match the number of targets \(1",
        ),
        (
            lambda: GeneralHSModelHyperparameters(**config(input_features=["a", "y", "c"])),
            r"targets and input_features cannot overlap; both contain \['y'\]",
        ),
        (
            lambda: GeneralHSModelHyperparameters(**config(optimizer_config={"type": "Adamm"})),
            r"unknown optimizer 'Adamm'",
        ),
        (lambda: LossFunctionConfig(type="MSE"), r"unknown loss function 'MSE'"),
        (lambda: SchedulerConfig(type="Nope"), r"unknown scheduler 'Nope'"),
        (
            lambda: SchedulerConfig(type="ReduceLROnPlateau", interval="step"),
            r"ReduceLROnPlateau needs an epoch metric",
        ),
        (
            lambda: PauliHSModelHyperparameters(**pauli_config(input_operator_pauli_weight=3)),
            r"input_operator_pauli_weight \(3\) must be less than or equal to qubits_count \(2\)",
        ),
        (
            lambda: GeneralHSModelHyperparameters(**config(hilbert_space_dim=4)),
            r"hilbert_space_dim\n  Extra inputs are not permitted",
        ),
        (
            lambda: GeneralHSModelHyperparameters(
                **config(hsm_model="general_fullenergy", beta=1.0)
            ),
            r"general_fullenergy trains on ground energies",
        ),
    ],
)
def test_invalid_configs_fail_at_construction(build, message):
    with pytest.raises(ValidationError, match=message):
        build()


def test_package_exposes_fit_and_configs_lazily():
    import qoxide.hsm as hsm

    assert hsm.fit is fit and hsm.load is load
    assert hsm.GeneralHSModelHyperparameters is GeneralHSModelHyperparameters
    assert "PauliHSModelHyperparameters" in dir(hsm)
    with pytest.raises(AttributeError):
        hsm.no_such_name  # noqa: B018


def test_parse_config_dispatches_on_hsm_model(tmp_path):
    assert isinstance(parse_config(pauli_config()), PauliHSModelHyperparameters)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config()))
    assert isinstance(parse_config(path), GeneralHSModelHyperparameters)
    assert isinstance(parse_config(json.dumps(config())), GeneralHSModelHyperparameters)
    with pytest.raises(ValueError, match="hsm_model must be"):
        parse_config(config(hsm_model="quantum"))


def test_optimizer_parameter_groups():
    model = GeneralHSM(3, 1, 4, weighted_layer=True)
    opt = OptimizerConfig(
        type="AdamW",
        default_params={"lr": 1e-3, "betas": [0.8, 0.9]},
        group_params=[
            PerGroupOptimizerParams(param_name_contains=["input_trius"], params={"lr": 1e-4}),
            PerGroupOptimizerParams(param_name_contains=["diags"], params={"lr": 1e-2}),
        ],
    ).build(model)
    assert isinstance(opt, torch.optim.AdamW)
    by_lr = {g["lr"]: len(g["params"]) for g in opt.param_groups}
    assert by_lr == {1e-3: 2, 1e-4: 1, 1e-2: 2}  # weights + output_trius; trius; 2 diags
    assert opt.param_groups[0]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="matches no parameter"):
        OptimizerConfig(
            group_params=[PerGroupOptimizerParams(param_name_contains=["pauli"])]
        ).build(model)


def test_feature_count_is_checked_against_the_data():
    with pytest.raises(ValueError, match=r"input_operator_count \(3\) must match .* \(6: "):
        fit(table(), config(input_features=None), progress=False)
    with pytest.raises(ValueError, match=r"columns \['q'\] are not in the data"):
        fit(table(), config(targets="q"), progress=False)


def test_fit_save_load_round_trip(tmp_path):
    frame = table()
    frame.to_csv(tmp_path / "data.csv", index=False)
    cfg = config(
        epochs=4,
        weighted_layer=True,
        scheduler_config={"type": "StepLR", "params": {"step_size": 1, "gamma": 0.5}},
        early_stopping_config={"monitor": "val_loss", "patience": 2},
        gradient_clipping_config={"max_norm": 1.0},
    )
    result = fit(tmp_path / "data.csv", cfg, progress=False)
    assert 1 <= len(result.train_history) <= 4
    assert len(result.val_history) == len(result.train_history)
    assert set(result.test_metrics) >= {"loss", "mse", "mae", "r2"}
    assert all(np.isfinite(v) for v in result.test_metrics.values())
    pred = result.model.predict(frame)
    assert list(pred.columns) == ["y"] and (pred.index == frame.index).all()
    assert abs(pred["y"].mean() - 100.0) < 1.0  # targets standardised and restored
    result.model.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(frame).to_numpy(), pred.to_numpy())
    np.testing.assert_array_equal(
        loaded.predict(frame[["c", "a", "b"]].to_numpy()[:, [1, 2, 0]]), pred.to_numpy()
    )
    assert loaded.config == result.model.config


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "hsm_model": "pauli",
            "targets": ["y", "z"],
            "output_operator_count": 2,
            "scheduler_config": {
                "type": "ReduceLROnPlateau",
                "params": {"monitor": "val_loss", "patience": 1},
            },
        },
        {"hsm_model": "general_fullenergy", "complex": False},
        {"hsm_model": "general", "beta": 2.0, "loss_fn_config": {"type": "L1Loss"}},
        {
            "targets": ["y_pos", "y_neg"],
            "output_operator_count": 2,
            "loss_fn_config": {"type": "CrossEntropyLoss", "params": {"weight": [1.0, 2.0]}},
        },
    ],
)
def test_fit_every_model_kind(tmp_path, overrides):
    pauli = overrides.get("hsm_model") == "pauli"
    cfg = pauli_config(**overrides) if pauli else config(**overrides)
    result = fit(table(), cfg, progress=False)
    assert len(result.train_history) == 3
    assert all(np.isfinite(v) for v in result.test_metrics.values())
    if cfg["loss_fn_config"]["type"] == "CrossEntropyLoss":
        assert 0.0 <= result.test_metrics["accuracy"] <= 1.0
    if cfg["hsm_model"] == "general_fullenergy":
        assert "energy" in result.test_metrics
        losses = [h["loss"] for h in result.train_history]
        assert losses[-1] < losses[0]  # the mean ground energy of H(x, y) decreases
    result.model.save(tmp_path)
    np.testing.assert_array_equal(
        load(tmp_path).predict(table()).to_numpy(), result.model.predict(table()).to_numpy()
    )


def test_cli_train_and_predict(tmp_path, capsys):
    frame = table(120)
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.json").write_text(json.dumps(config(epochs=2)))
    out = tmp_path / "run"
    args = ["train", str(tmp_path / "data.csv"), "--config", str(tmp_path / "config.json")]
    assert hsm_main([*args, "--out", str(out), "--no-progress"]) == 0
    assert "test: loss" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "model.pt",
        "history.json",
        "metrics.json",
    }
    data, preds = str(tmp_path / "data.csv"), str(tmp_path / "p.csv")
    assert hsm_main(["predict", str(out), data, "--out", preds]) == 0
    assert f"wrote 120 predictions to {preds}" in capsys.readouterr().out
    predicted = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(predicted.to_numpy(), load(out).predict(frame).to_numpy())
    assert hsm_main(["predict", str(out), str(tmp_path / "data.csv")]) == 0
    assert capsys.readouterr().out.startswith("y\n")


def test_example_config_and_dataset(tmp_path):
    cfg = parse_config(EXAMPLES / "config.json")
    assert cfg.input_operator_count == 10 and cfg.target_list == ["target"]
    runpy.run_path(str(EXAMPLES / "make_dataset.py"), run_name="not_main")["main"](
        tmp_path / "d.csv"
    )
    frame = pd.read_csv(tmp_path / "d.csv")
    assert frame.shape == (442, 11) and "target" in frame.columns
