"""EarlyStopping, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN and ModelCheckpoint.

The monitoring callbacks are driven by a scripted sequence of epoch values
(``drive``); the expected outcomes were recorded by running Keras 3.15.1's own
callbacks through the very same driver.
"""

import io
import os

import numpy as np
import pytest

from gdlib import callbacks, models, optimizers, schedules
from gdlib.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from gdlib.layers import Dense


# ------------------------------------------------------------ helpers
class _Optimizer:
    learning_rate = 1.0


class StubModel:
    """What the monitoring callbacks touch: weights, stop_training, optimizer.learning_rate."""

    def __init__(self):
        self.stop_training = False
        self.optimizer = _Optimizer()
        self.weight = None

    def get_weights(self):
        return [self.weight]

    def set_weights(self, weights):
        self.weight = weights[0]


def drive(callback, values, monitor="val_loss"):
    """Run ``callback`` over epochs whose monitored value is ``values[epoch]``.

    The model's "weights" at the end of epoch ``e`` are the number ``e``, so the
    weights left after ``on_train_end`` say which epoch was restored.
    """
    model = StubModel()
    callback.set_model(model)
    callback.on_train_begin()
    learning_rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        model.weight = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        learning_rates.append(model.optimizer.learning_rate)
        if model.stop_training:
            break
    callback.on_train_end()
    return {"epochs": epoch + 1, "weights": model.weight, "lrs": learning_rates}


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def classifier(optimizer="sgd"):
    model = models.Sequential([
        Dense(5, activation="relu", input_shape=(3,)), Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Scripted(Callback):
    """Writes ``values[epoch]`` into the epoch logs as ``'score'``, before the callbacks after it."""

    def __init__(self, values):
        super().__init__()
        self.values = values
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


V = [1.0, 0.9, 0.95, 0.92, 0.96, 0.8, 0.85, 0.9, 0.91, 0.92]


# ------------------------------------------------------- EarlyStopping
@pytest.mark.parametrize("kwargs, values, epochs, weights", [
    # patience=0: epoch 2 (0.95) does not improve on 0.9 -> stop at once.
    (dict(), V, 3, 2),
    # patience=2: epochs 2 and 3 fail to improve -> stop after epoch 3.
    (dict(patience=2), V, 4, 3),
    (dict(patience=2, restore_best_weights=True), V, 4, 1),
    (dict(patience=3, restore_best_weights=True), V, 5, 1),
    # min_delta=0.05: 0.88 is not better than 0.9 - 0.05, so epoch 2 counts as no improvement.
    (dict(patience=1, min_delta=0.05), [1.0, 0.9, 0.88, 0.87, 0.8, 0.79], 3, 2),
    # A baseline never beaten: the counter is not reset by epoch 0's "improvement".
    (dict(patience=2, baseline=0.5), [1.0, 1.1, 1.2, 1.3], 2, 1),
    # ... but improving epochs never stop training, even above the baseline (as in Keras).
    (dict(patience=2, baseline=0.5), [1.0, 0.9, 0.8, 0.7, 0.6], 5, 4),
    # Nothing is monitored before start_from_epoch.
    (dict(patience=1, start_from_epoch=3), [1.0, 1.1, 1.2, 1.3, 1.4, 1.5], 5, 4),
])
def test_early_stopping_matches_keras(kwargs, values, epochs, weights):
    result = drive(EarlyStopping(**kwargs), values)
    assert (result["epochs"], result["weights"]) == (epochs, weights)


def test_early_stopping_counts_patience_from_the_best_epoch():
    stop = EarlyStopping(patience=3)
    drive(stop, [1.0, 0.5, 0.6, 0.4, 0.45, 0.47, 0.49, 0.3])
    assert stop.stopped_epoch == 6 and stop.best == 0.4 and stop.best_epoch == 3 and stop.wait == 3


@pytest.mark.parametrize("monitor, values, expected", [
    ("val_accuracy", [0.5, 0.6, 0.55, 0.58, 0.7], 3),   # inferred 'max' (Keras: mode='max' gives 3)
    ("val_loss", [0.5, 0.6, 0.55, 0.58, 0.7], 2),       # inferred 'min'
    ("mse", [0.5, 0.4, 0.45], 3),                       # a loss used as a metric: 'min'
])
def test_mode_is_inferred_from_the_name(monitor, values, expected):
    assert drive(EarlyStopping(monitor=monitor, patience=1), values, monitor=monitor)["epochs"] == expected


def test_explicit_mode_and_unknown_names():
    assert drive(EarlyStopping(monitor="score", mode="max", patience=0), [1, 2, 1], "score")["epochs"] == 3
    assert drive(EarlyStopping(monitor="score", mode="min", patience=0), [1, 2, 1], "score")["epochs"] == 2
    with pytest.raises(ValueError, match="monitor=score.*mode='max'"):
        drive(EarlyStopping(monitor="score"), [1.0], "score")
    with pytest.warns(UserWarning, match="mode 'maximum' is unknown"):
        EarlyStopping(mode="maximum")


def test_missing_monitor_warns_and_training_goes_on():
    x, y = data()
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: accuracy,loss"):
        history = classifier().fit(x, y, epochs=3, verbose=0, callbacks=[EarlyStopping()])
    assert history.epoch == [0, 1, 2]


def test_restore_best_weights_restores_exactly_the_best_epoch_in_fit():
    x, y = data()
    scores = [0.9, 0.7, 0.5, 0.6, 0.55, 0.8, 0.4]  # best at epoch 2; patience 3 stops after epoch 5
    script = Scripted(scores)
    stop = EarlyStopping(monitor="score", mode="min", patience=3, restore_best_weights=True)
    model = classifier(optimizers.SGD(0.5))
    history = model.fit(x, y, epochs=7, batch_size=8, verbose=0, callbacks=[script, stop])
    assert history.epoch == [0, 1, 2, 3, 4, 5] and stop.best_epoch == 2
    assert not all(np.array_equal(a, b) for a, b in zip(script.weights[2], script.weights[5]))
    for restored, best in zip(model.get_weights(), script.weights[2]):
        assert np.array_equal(restored, best)


def test_verbose_early_stopping_messages(capsys):
    drive(EarlyStopping(patience=1, verbose=1, restore_best_weights=True), [1.0, 2.0, 3.0])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


# ---------------------------------------------------- ReduceLROnPlateau
@pytest.mark.parametrize("kwargs, values, lrs", [
    (dict(patience=2, factor=0.5), V, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]),
    # cooldown=2: after a reduction, the next epoch is not counted.
    (dict(patience=1, factor=0.5, cooldown=2, min_lr=0.1), [1.0] * 10,
     [1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1]),
    (dict(patience=1, factor=0.5, min_delta=0.05), [1.0, 0.97, 0.9, 0.88, 0.86, 0.8],
     [1.0, 0.5, 0.5, 0.25, 0.125, 0.125]),
])
def test_reduce_lr_on_plateau_matches_keras(kwargs, values, lrs):
    assert drive(ReduceLROnPlateau(**kwargs), values)["lrs"] == lrs


def test_reduce_lr_on_plateau_in_fit_logs_the_learning_rate():
    x, y = data()
    model = classifier(optimizers.SGD(0.1))
    plateau = ReduceLROnPlateau(monitor="score", mode="min", patience=1, factor=0.5)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted([1.0, 1.0, 1.0, 1.0]), plateau])
    # logged before the decision at each epoch's end, as in Keras 3
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def test_reduce_lr_on_plateau_rejects_a_factor_of_one_or_more():
    with pytest.raises(ValueError, match="factor >= 1.0. Received factor=1.5"):
        ReduceLROnPlateau(factor=1.5)


# ------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler_sets_the_rate_at_each_epoch_begin():
    seen = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    x, y = data(16)
    model = classifier(optimizers.SGD(0.1))
    scheduler = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[scheduler, Spy()])
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


def test_learning_rate_scheduler_gives_the_same_weights_as_setting_the_rate_by_hand():
    x, y = data(16)
    rates = [0.3, 0.1, 0.03]
    scheduled = classifier(optimizers.SGD(0.3))
    by_hand = classifier(optimizers.SGD(0.3))
    by_hand.set_weights(scheduled.get_weights())
    scheduled.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[LearningRateScheduler(lambda epoch: rates[epoch])])  # Keras's old 1-argument form
    for rate in rates:
        by_hand.optimizer.learning_rate = rate
        by_hand.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(scheduled.get_weights(), by_hand.get_weights()):
        assert np.array_equal(a, b)


def test_learning_rate_scheduler_errors():
    x, y = data(8)
    model = classifier(optimizers.SGD(schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)))
    with pytest.raises(TypeError, match="LearningRateScheduler cannot set the learning rate of an optimizer "
                                        "created with a schedule"):
        model.fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: lr)])
    with pytest.raises(ValueError, match="should be a float. Got: '0.1'"):
        classifier().fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: "0.1")])
    with pytest.raises(TypeError, match="`schedule` must be a function"):
        LearningRateScheduler(0.1)


def test_learning_rate_scheduler_verbose(capsys):
    x, y = data(8)
    classifier().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: 0.25, verbose=1)])
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.25." in capsys.readouterr().out


# -------------------------------------------------------- TerminateOnNaN
def diverging():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32) * 100
    y = rng.normal(size=(64, 1)).astype(np.float32) * 100
    model = models.Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(1)])
    model.compile(optimizer=optimizers.SGD(10.0), loss="mse")
    return model, x, y


def test_terminate_on_nan_stops_at_the_first_nonfinite_batch(capsys):
    class BatchLosses(Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(logs["loss"])

    model, x, y = diverging()
    record = BatchLosses()
    history = model.fit(x, y, epochs=50, batch_size=8, verbose=0, callbacks=[record, TerminateOnNaN()])
    losses = np.array(record.losses)
    # Training went on while the loss was finite and ended at the first batch where it was not.
    assert np.isfinite(losses[:-1]).all() and not np.isfinite(losses[-1])
    assert len(history.epoch) < 50 and not np.isfinite(history.history["loss"][-1])
    assert all(np.isfinite(w).all() for w in model.get_weights())  # that batch's update was skipped
    batch = (len(losses) - 1) % 8
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"Batch {batch}: Invalid loss, terminating training"


def test_terminate_on_nan_can_raise():
    model, x, y = diverging()
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        model.fit(x, y, epochs=50, batch_size=8, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


# ------------------------------------------------------- ModelCheckpoint
def test_checkpoint_every_epoch_with_formatted_names(tmp_path):
    x, y = data()
    model = classifier(optimizers.SGD(0.5))
    script = Scripted([0.5, 0.25, 0.125])
    path = tmp_path / "ckpt" / "weights-{epoch:02d}-{score:.2f}.npz"  # the directory is created
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[script, ModelCheckpoint(path)])
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == ["weights-01-0.50.npz", "weights-02-0.25.npz", "weights-03-0.12.npz"]
    assert history.epoch == [0, 1, 2]
    reloaded = classifier()
    reloaded.load_weights(tmp_path / "ckpt" / names[1])
    for a, b in zip(reloaded.get_weights(), script.weights[1]):
        assert np.array_equal(a, b)


def test_checkpoint_save_best_only_keeps_the_best_epoch(tmp_path, capsys):
    x, y = data()
    model = classifier(optimizers.SGD(0.5))
    script = Scripted([0.5, 0.7, 0.3, 0.4])
    path = tmp_path / "best.npz"
    checkpoint = ModelCheckpoint(path, monitor="score", mode="min", save_best_only=True, verbose=1)
    model.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[script, checkpoint])
    assert os.listdir(tmp_path) == ["best.npz"] and checkpoint.best == 0.3
    reloaded = classifier()
    reloaded.load_weights(path)
    for a, b in zip(reloaded.get_weights(), script.weights[2]):
        assert np.array_equal(a, b)
    out = capsys.readouterr().out
    assert "Epoch 3: score improved from 0.50000 to 0.30000, saving model to" in out
    assert "Epoch 4: score did not improve from 0.30000" in out


def test_checkpoint_every_n_batches(tmp_path):
    x, y = data(40)  # 5 batches of 8 per epoch: saves after batches 3, 6, 9 (counted across epochs)
    path = tmp_path / "e{epoch}-b{batch}.npz"
    classifier().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ModelCheckpoint(path, save_freq=3)])
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.npz", "e2-b1.npz", "e2-b4.npz"]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(filepath="model.keras"), ValueError, r"must end in `.npz`.*Received: filepath=model.keras"),
    (dict(filepath="w.npz", save_weights_only=False), ValueError, "weights only"),
    (dict(filepath="w.npz", save_freq="batch"), ValueError, "Unrecognized save_freq: batch"),
])
def test_checkpoint_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ModelCheckpoint(**kwargs)


def test_checkpoint_unknown_field_names_the_available_ones(tmp_path):
    x, y = data(8)
    with pytest.raises(KeyError, match="Failed to format.*val_loss.*accuracy, loss"):
        classifier().fit(x, y, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "{val_loss:.2f}.npz")])


# ------------------------------------------------- hook order, as Keras
HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
         "on_test_end", "on_predict_begin", "on_predict_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
         "on_predict_batch_end", "on_batch_begin", "on_batch_end"]


class Spy(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _spying(hook):
    base = getattr(Callback, hook)

    def method(self, *args, **kwargs):
        self.calls.append((hook,) + tuple(a for a in args if isinstance(a, int)))
        return base(self, *args, **kwargs)

    return method


for _hook in HOOKS:
    setattr(Spy, _hook, _spying(_hook))

# Recorded from Keras 3.15.1 with the same spy: fit(10 samples, batch_size=4, epochs=2,
# validation_split=0.2), then evaluate and predict with batch_size=4.
_TRAIN_BATCH = [("on_train_batch_begin", 0), ("on_batch_begin", 0), ("on_train_batch_end", 0), ("on_batch_end", 0),
                ("on_train_batch_begin", 1), ("on_batch_begin", 1), ("on_train_batch_end", 1), ("on_batch_end", 1)]
_VALIDATION = [("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_end",)]
KERAS_FIT = ([("on_train_begin",), ("on_epoch_begin", 0)] + _TRAIN_BATCH + _VALIDATION + [("on_epoch_end", 0)]
             + [("on_epoch_begin", 1)] + _TRAIN_BATCH + _VALIDATION + [("on_epoch_end", 1), ("on_train_end",)])
KERAS_EVALUATE = ([("on_test_begin",)]
                  + [c for b in range(3) for c in (("on_test_batch_begin", b), ("on_test_batch_end", b))]
                  + [("on_test_end",)])
KERAS_PREDICT = ([("on_predict_begin",)]
                 + [c for b in range(3) for c in (("on_predict_batch_begin", b), ("on_predict_batch_end", b))]
                 + [("on_predict_end",)])


def test_hook_order_matches_keras():
    x, y = data(10)
    model = classifier()
    spy = Spy()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_split=0.2, callbacks=[spy])
    assert spy.calls == KERAS_FIT
    spy = Spy()
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[spy])
    assert spy.calls == KERAS_EVALUATE
    spy = Spy()
    model.predict(x, batch_size=4, verbose=0, callbacks=[spy])
    assert spy.calls == KERAS_PREDICT


# ---------------------------------------------------------- progress bar
class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_eta_and_metrics_while_running():
    stream = Terminal()
    bar = ProgbarLogger(interval=0, stream=stream)
    x, y = data(40)
    classifier().fit(x, y, batch_size=8, epochs=2, verbose=1, callbacks=[bar])
    text = stream.getvalue()
    frames = text.replace("\n", "\r").split("\r")
    running = [f for f in frames if f.startswith("1/5 ")]
    assert running and all(" - accuracy: " in f and " - loss: " in f and "/step" in f for f in running)
    assert running[0].split()[2].endswith("s")  # the ETA, e.g. "0s"
    assert text.count("Epoch 1/2\n") == 1 and text.count("Epoch 2/2\n") == 1


def test_eta_format_matches_keras():
    assert callbacks._format_eta(42.7) == "42s"
    assert callbacks._format_eta(185) == "3:05"
    assert callbacks._format_eta(3723) == "1:02:03"


def test_verbose_2_line_ends_with_the_learning_rate(capsys):
    x, y = data(16)
    classifier().fit(x, y, epochs=1, batch_size=8, verbose=2,
                     callbacks=[LearningRateScheduler(lambda epoch, lr: 0.02)])
    line = capsys.readouterr().out.strip()
    assert line.startswith("2/2 - ") and line.endswith(" - learning_rate: 0.0200")


def test_in_a_notebook_each_epoch_is_one_output_updated_in_place(monkeypatch):
    class KernelStream(io.StringIO):
        pass

    KernelStream.__module__ = "ipykernel.iostream"
    shown = []

    def fake_display(text, handle=None):
        if handle is None:
            handle = len(shown)
            shown.append([])
        shown[handle].append(text)
        return handle

    monkeypatch.setattr(callbacks, "_notebook_display", fake_display)
    stream = KernelStream()
    x, y = data(40)
    classifier().fit(x, y, batch_size=8, epochs=2, verbose=1, callbacks=[ProgbarLogger(interval=0, stream=stream)])
    assert stream.getvalue() == "Epoch 1/2\nEpoch 2/2\n"  # no "\r" frames in the cell's text output
    assert len(shown) == 2  # one output per epoch, updated at every batch
    assert all(frames[-1].startswith("5/5 " + "━" * 20) and " - loss: " in frames[-1] for frames in shown)
    assert len(shown[0]) == 6 and shown[0][0].startswith("1/5 ")
