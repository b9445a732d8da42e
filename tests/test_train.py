"""Trainer: seed 000's flows (fit with validation, predict, score, StopHook, ±1
classification), the built-in hooks, scoring, and clear errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide.train import (
    EarlyStopping,
    HookBase,
    LRSchedulerHook,
    NonFiniteLossError,
    Trainer,
    accuracy_counts,
    load_checkpoint,
    r2_score,
)
from sklearn.metrics import r2_score as sk_r2
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

HISTORY_KEYS = {"epoch", "loss", "forward_time", "backward_time", "epoch_time"}


@qx.circuit(n_qubits=1)
def sine_qnn(q, x, w):
    """Seed 000's regression QNN: RY(x) feature map, RY(w) ansatz, ⟨Z⟩."""
    q.ry(x[0], 0)
    q.ry(w[0], 0)
    return [q.expval(qx.Z(0))]


@qx.circuit(n_qubits=2)
def sign_qnn(q, x, w):
    """A ±1 classifier of two features: ⟨Z0⟩ = cos(x0 + x1 + w0) for w1 = 0."""
    q.ry(x[0], 0)
    q.ry(x[1], 0)
    q.ry(w[0], 0)
    q.ry(w[1], 1)
    q.cnot(1, 0)
    return [q.expval(qx.Z(0))]


def small_init(t: torch.Tensor, g: torch.Generator | None) -> None:
    with torch.no_grad():
        t.uniform_(-0.1, 0.1, generator=g)


def regression_model() -> nn.Module:
    return qx.nn.QuantumLayer(sine_qnn, {"w": 1}, init=small_init, seed=42)


@pytest.fixture
def sine_loaders() -> tuple[DataLoader, DataLoader]:
    """Seed 000's data: 20 noisy samples of sin(x) on [-π, π]; 50 clean test points."""
    rs = np.random.RandomState(0)
    x = (2 * np.pi) * rs.rand(20, 1) - np.pi
    y = np.sin(x) + 0.2 * (2 * rs.rand(20, 1) - 1)
    x_test = np.linspace(-np.pi, np.pi)[:, None]
    train = TensorDataset(torch.tensor(x).float(), torch.tensor(y).float())
    test = TensorDataset(torch.tensor(x_test).float(), torch.tensor(np.sin(x_test)).float())
    return DataLoader(train, batch_size=1, shuffle=False), DataLoader(test, batch_size=1)


@pytest.fixture
def sign_loader() -> DataLoader:
    """Seed 000's classification data: 20 points in [-1, 1]², label sign(x0 + x1) in {-1, 1}."""
    rs = np.random.default_rng(42)
    x = 2 * rs.random((20, 2)) - 1
    y = 2 * (x.sum(axis=1) >= 0) - 1
    data = TensorDataset(torch.tensor(x), torch.tensor(y, dtype=torch.float64).reshape(20, 1))
    return DataLoader(data, batch_size=1, shuffle=False)


def sine_trainer(epochs: int = 5, **kwargs) -> Trainer:
    model = regression_model()
    kwargs.setdefault("progress", False)
    kwargs.setdefault("device", "cpu")  # qoxide circuits run on CPU
    return Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=0.1),
        nn.MSELoss(reduction="sum"),
        epochs=epochs,
        **kwargs,
    )


# seed 000 flows ---------------------------------------------------------------------------
def test_regression_fit_with_validation(sine_loaders) -> None:
    train, test = sine_loaders
    trainer = sine_trainer()
    result = trainer.fit(train, val_loader=test)

    for history in (result.train_history, result.val_history):
        assert len(history) == 5
        assert [h["epoch"] for h in history] == [0, 1, 2, 3, 4]
        assert all(set(h) == HISTORY_KEYS for h in history)  # regression: no accuracy
        assert all(h["epoch_time"] >= h["forward_time"] > 0 for h in history)
    assert all(h["backward_time"] > 0 for h in result.train_history)
    assert all(h["backward_time"] == 0 for h in result.val_history)
    assert result.train_history[-1]["loss"] < 0.5 * result.train_history[0]["loss"]
    assert result.val_history[-1]["loss"] < 1e-2
    assert result.execution_time > 0
    # the result's weights are the trained model's, and a copy
    assert torch.equal(result.model_state_dict["w"], trainer.model.w.detach())
    assert result.model_state_dict["w"].data_ptr() != trainer.model.w.data_ptr()
    # val loss at the last epoch is the mean loss of the final model on the test set
    with torch.no_grad():
        x, y = test.dataset.tensors
        expected = nn.MSELoss(reduction="none")(trainer.model(x), y).mean().item()
    assert result.val_history[-1]["loss"] == pytest.approx(expected, rel=1e-6)


def test_predict_and_score_regression(sine_loaders) -> None:
    train, test = sine_loaders
    trainer = sine_trainer()
    trainer.fit(train)
    x, y = test.dataset.tensors

    pred = trainer.predict(test)
    assert pred.prediction.shape == (50, 1) and pred.execution_time > 0
    with torch.no_grad():
        torch.testing.assert_close(pred.prediction, trainer.model(x))
    # bare tensors are accepted for prediction
    torch.testing.assert_close(
        trainer.predict(DataLoader(x, batch_size=7)).prediction, pred.prediction
    )

    score = trainer.score(test, score_func="regression")
    assert score.score == pytest.approx(sk_r2(y.numpy(), pred.prediction.numpy()), abs=1e-6)
    assert score.score > 0.95
    torch.testing.assert_close(score.prediction, pred.prediction)


def test_custom_score_func_and_classification_with_pm1_targets(sign_loader) -> None:
    model = qx.nn.QuantumLayer(sign_qnn, {"w": 2}, init=small_init, seed=0, dtype=torch.float64)
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=0.1),
        nn.MSELoss(reduction="sum"),
        epochs=5,
        device="cpu",
        progress=False,
    )
    result = trainer.fit(sign_loader, val_loader=sign_loader, seed=42)
    assert all(set(h) == HISTORY_KEYS | {"accuracy"} for h in result.train_history)
    assert all(0 <= h["accuracy"] <= 1 for h in result.train_history)

    def score_func(out, target):  # seed 000 verbatim
        from numpy import sign

        score = 0
        if sign(out.item()) == target.item():
            score = 1
        return score

    custom = trainer.score(sign_loader, score_func=score_func)
    builtin = trainer.score(sign_loader, score_func="classification")
    x, y = sign_loader.dataset.tensors
    with torch.no_grad():
        manual = (torch.sign(model(x)) == y).double().mean().item()
    assert custom.score == builtin.score == manual == result.val_history[-1]["accuracy"]
    assert builtin.score >= 0.9  # the circuit can express sign(x0 + x1); training finds it
    assert custom.prediction.shape == (20, 1)


def test_stop_hook_from_seed_stops_after_epoch_0(sine_loaders, capsys) -> None:
    class StopHook(HookBase):
        """For early stopping"""

        def __init__(self, loss_threshold):
            self._loss_threshold = loss_threshold

        def after_epoch(self):
            # This function is called after each epoch
            current_loss = self.trainer.train_logger.metrics[-1]["loss"]
            print("current loss: ", current_loss)
            # If current loss is smaller than the threshold,
            # set the current number of the epoch to the maximum number of the epochs to stop
            # the training
            if current_loss < self._loss_threshold:
                self.trainer.epoch = self.trainer.max_epochs

    train, _ = sine_loaders
    trainer = sine_trainer()
    result = trainer.fit(train, hooks=StopHook(loss_threshold=10.0))
    assert [h["epoch"] for h in result.train_history] == [0]
    assert capsys.readouterr().out.count("current loss:") == 1
    # never met: all five epochs run
    result = trainer.fit(train, hooks=StopHook(loss_threshold=0.0))
    assert [h["epoch"] for h in result.train_history] == [0, 1, 2, 3, 4]


def test_hook_sees_trainer_context(sine_loaders) -> None:
    calls: list[tuple[str, int, int]] = []

    class Recorder(HookBase):
        def before_train(self) -> None:
            t = self.trainer
            assert t.train_loader is not None and t.val_loader is not None
            assert (t.max_epochs, t.log_period, t.start_epoch) == (3, 1, 1)
            calls.append(("before_train", t.epoch, t.global_step))

        def before_epoch(self) -> None:
            calls.append(("before_epoch", self.trainer.epoch, self.trainer.global_step))

        def after_step(self) -> None:
            assert isinstance(self.trainer.optimizer, torch.optim.Adam)
            assert isinstance(self.trainer.loss_func, nn.MSELoss)

        def after_epoch(self) -> None:
            t = self.trainer
            assert t.train_logger.metrics[-1]["epoch"] == t.epoch
            assert t.val_logger.metrics[-1]["epoch"] == t.epoch
            assert t.epoch_metrics["val_loss"] == t.val_logger.metrics[-1]["loss"]
            calls.append(("after_epoch", t.epoch, t.global_step))

        def after_train(self) -> None:
            calls.append(("after_train", self.trainer.epoch, self.trainer.global_step))

    train, test = sine_loaders
    sine_trainer(epochs=3, hooks=Recorder()).fit(train, val_loader=test, start_epoch=1)
    assert calls == [
        ("before_train", 1, 0),
        ("before_epoch", 1, 0),
        ("after_epoch", 1, 20),
        ("before_epoch", 2, 20),
        ("after_epoch", 2, 40),
        ("after_train", 3, 40),
    ]


def test_log_period_thins_histories(sine_loaders) -> None:
    train, test = sine_loaders
    result = sine_trainer(log_period=2).fit(train, val_loader=test)
    assert [h["epoch"] for h in result.train_history] == [0, 2, 4]
    assert [h["epoch"] for h in result.val_history] == [0, 2, 4]


def test_class_logits_accuracy_with_dressed_net() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 6, dtype=torch.float64)
    labels = (x[:, 0] > 0).long()
    model = qx.nn.DressedQuantumNet(6, 2, 2, 2).double()
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=0.05),
        nn.CrossEntropyLoss(),
        8,
        device="cpu",
        progress=False,
    )
    loader = DataLoader(TensorDataset(x, labels), batch_size=8, shuffle=True)
    result = trainer.fit(loader, val_loader=loader, seed=1)
    assert "accuracy" in result.train_history[0] and "accuracy" in result.val_history[0]
    score = trainer.score(loader, "classification")
    assert score.score == result.val_history[-1]["accuracy"] >= 0.8


def test_seed_makes_shuffled_runs_reproducible() -> None:
    x = torch.linspace(-2, 2, 24, dtype=torch.float64).reshape(-1, 1)
    loader = DataLoader(TensorDataset(x, torch.sin(x)), batch_size=4, shuffle=True)

    def run(seed: int) -> torch.Tensor:
        model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        torch.manual_seed(0)
        for p in model.parameters():
            nn.init.normal_(p)
        trainer = Trainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.05),
            nn.MSELoss(),
            3,
            device="cpu",
            progress=False,
        )
        return trainer.fit(loader, seed=seed).model_state_dict["0.weight"]

    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))  # the data order follows the seed


def test_lbfgs_closure_optimizer(sine_loaders) -> None:
    train, _ = sine_loaders
    model = regression_model()
    full = DataLoader(train.dataset, batch_size=20)
    trainer = Trainer(
        model,
        torch.optim.LBFGS(model.parameters(), lr=0.5),
        nn.MSELoss(),
        3,
        device="cpu",
        progress=False,
    )
    result = trainer.fit(full)
    assert result.train_history[-1]["loss"] < 0.05 < result.train_history[0]["loss"]


def test_progress_bar_on_stderr(sine_loaders, capsys) -> None:
    train, _ = sine_loaders
    sine_trainer(epochs=2, progress=True).fit(train)
    assert "epochs" in capsys.readouterr().err
    sine_trainer(epochs=2, progress=False).fit(train)
    assert capsys.readouterr().err == ""


# built-in hooks ---------------------------------------------------------------------------
def test_early_stopping_patience() -> None:
    x = torch.linspace(-1, 1, 8).reshape(-1, 1)
    loader = DataLoader(TensorDataset(x, x), batch_size=4)
    model = nn.Linear(1, 1)
    stop = EarlyStopping(monitor="val_loss", patience=2)
    trainer = Trainer(  # lr = 0: the loss never improves after epoch 0
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        nn.MSELoss(),
        10,
        hooks=stop,
        device="cpu",
        progress=False,
    )
    result = trainer.fit(loader, val_loader=loader)
    assert [h["epoch"] for h in result.train_history] == [0, 1, 2]
    assert (stop.best_epoch, stop.stopped_epoch) == (0, 2)

    with pytest.raises(KeyError, match="pass val_loader"):
        trainer.fit(loader)


def test_early_stopping_restores_best_weights(sine_loaders) -> None:
    train, test = sine_loaders
    snapshots: list[torch.Tensor] = []

    class Snapshot(HookBase):
        def after_epoch(self) -> None:
            snapshots.append(self.trainer.model.w.detach().clone())

    stop = EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    trainer = sine_trainer(epochs=6, hooks=[stop, Snapshot()])
    result = trainer.fit(train)
    losses = [h["loss"] for h in result.train_history]
    best = int(np.argmin(losses))
    assert stop.best_epoch == best and stop.stopped_epoch is None
    assert torch.equal(trainer.model.w.detach(), snapshots[best])


def test_reduce_lr_on_plateau_and_per_step_schedule() -> None:
    x = torch.linspace(-1, 1, 8).reshape(-1, 1)
    loader = DataLoader(TensorDataset(x, x), batch_size=2)
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-12)  # the loss stays flat
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    Trainer(model, opt, nn.MSELoss(), 4, scheduler=plateau, device="cpu", progress=False).fit(
        loader, val_loader=loader
    )
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-12 * 0.5**3)

    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    step_lr = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    hook = LRSchedulerHook(step_lr, interval="step")
    Trainer(model, opt, nn.MSELoss(), 2, scheduler=hook, device="cpu", progress=False).fit(
        loader
    )  # 8 steps
    assert opt.param_groups[0]["lr"] == 0.5 ** (8 // 3)

    with pytest.raises(ValueError, match="interval='epoch'"):
        LRSchedulerHook(plateau, interval="step")


def test_gradient_clipping_before_the_optimizer_step() -> None:
    norms: list[float] = []

    class GradNorm(HookBase):  # runs after the built-in clipping hook
        def after_backward(self) -> None:
            grads = [p.grad for p in self.trainer.model.parameters()]
            norms.append(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item())

    x = torch.linspace(-1, 1, 8).reshape(-1, 1)
    loader = DataLoader(TensorDataset(x, 100 * x), batch_size=4)
    model = nn.Linear(1, 1)
    Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.MSELoss(),
        2,
        hooks=GradNorm(),
        grad_clip=0.5,
        device="cpu",
        progress=False,
    ).fit(loader)
    assert len(norms) == 4 and max(norms) <= 0.5 + 1e-6
    assert norms[0] == pytest.approx(0.5)  # it was clipped, not small already


# scoring ----------------------------------------------------------------------------------
def test_r2_matches_sklearn() -> None:
    g = torch.Generator().manual_seed(3)
    y = torch.randn(30, 3, generator=g, dtype=torch.float64)
    y_hat = y + 0.3 * torch.randn(30, 3, generator=g, dtype=torch.float64)
    assert r2_score(y_hat, y) == pytest.approx(sk_r2(y.numpy(), y_hat.numpy()), abs=1e-12)
    assert r2_score(y[:, 0], y[:, 0]) == 1.0
    const = torch.ones(5)
    assert r2_score(const, const) == 1.0 and r2_score(const + 1, const) == 0.0
    with pytest.raises(ValueError, match="one prediction per target"):
        r2_score(torch.zeros(4, 2), torch.zeros(4))


def test_accuracy_conventions() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy_counts(logits, torch.tensor([0, 1, 1])) == (2, 3)
    assert accuracy_counts(torch.tensor([[0.3], [-0.2]]), torch.tensor([[1.0], [1.0]])) == (1, 2)
    assert accuracy_counts(torch.tensor([0.3, -0.2]), torch.tensor([1, -1])) == (2, 2)
    assert accuracy_counts(torch.tensor([[0.3]]), torch.tensor([[0.5]])) is None  # regression
    assert accuracy_counts(torch.tensor([0.7, 0.2]), torch.tensor([1, 0])) is None  # ambiguous


def test_score_rejects_bad_score_func(sine_loaders) -> None:
    _, test = sine_loaders
    trainer = sine_trainer(epochs=0)
    with pytest.raises(ValueError, match="score_func must be"):
        trainer.score(test, score_func="r2")
    with pytest.raises(ValueError, match="classification"):
        trainer.score(test, score_func="classification")  # sine targets are not labels


# bad input --------------------------------------------------------------------------------
class _Singles(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([float(i)])


@pytest.mark.parametrize(
    "dataset, got",
    [
        (_Singles(), "bare tensor"),
        (TensorDataset(torch.zeros(4, 1), torch.zeros(4, 1), torch.zeros(4, 1)), "3 items"),
    ],
)
def test_loader_without_data_target_pairs(tmp_path, dataset, got) -> None:
    trainer = sine_trainer(checkpoint_dir=tmp_path / "ckpt")
    w0 = trainer.model.w.detach().clone()
    with pytest.raises(TypeError, match=rf"epoch 0, step 0 .*\(data, target\).*{got}"):
        trainer.fit(DataLoader(dataset, batch_size=2))
    assert torch.equal(trainer.model.w.detach(), w0)
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


def test_non_scalar_loss(sine_loaders, tmp_path) -> None:
    train, _ = sine_loaders
    model = regression_model()
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters()),
        nn.MSELoss(reduction="none"),
        2,
        checkpoint_dir=tmp_path,
        device="cpu",
        progress=False,
    )
    with pytest.raises(ValueError, match=r"scalar tensor, got shape \(1, 1\) at epoch 0, step 0"):
        trainer.fit(train)
    assert list(tmp_path.iterdir()) == []


def test_nan_loss_stops_naming_the_step_and_keeps_the_checkpoint(sine_loaders, tmp_path) -> None:
    train, _ = sine_loaders
    calls = {"n": 0}
    mse = nn.MSELoss(reduction="sum")

    def nan_at_epoch_1_step_3(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = mse(out, target)
        return loss * math.nan if calls["n"] == 20 + 4 else loss

    model = regression_model()
    trainer = Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=0.1),
        nan_at_epoch_1_step_3,
        5,
        checkpoint_dir=tmp_path,
        device="cpu",
        progress=False,
    )
    before = None

    class Watch(HookBase):
        def before_step(self) -> None:
            nonlocal before
            before = self.trainer.model.w.detach().clone()

    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 1, step 3 \(global step 23\)") as e:
        trainer.fit(train, hooks=Watch())
    assert "checkpoint.pt is kept" in str(e.value)
    assert torch.equal(trainer.model.w.detach(), before)  # the NaN step changed nothing
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    saved = load_checkpoint(tmp_path)
    assert saved["epoch"] == 0 and saved["next_epoch"] == 1
    assert torch.isfinite(saved["model"]["w"]).all()
    assert [h["epoch"] for h in saved["train_history"]] == [0]


def test_predict_and_score_accept_torch_runtime_keyword():
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    data = DataLoader(TensorDataset(torch.randn(8, 1), torch.randn(8, 1)), batch_size=4)
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(), 1, progress=False
    )
    by_keyword = trainer.predict(data_loader=data).prediction
    torch.testing.assert_close(by_keyword, trainer.predict(data).prediction)
    assert trainer.score(data_loader=data, score_func="regression").score == pytest.approx(
        trainer.score(data, "regression").score
    )
    with pytest.raises(TypeError, match="one loader"):
        trainer.predict()
