"""Callback hooks, History and the progress display, as Keras calls them."""

import io

import numpy as np
import pytest

from gdlib import callbacks, models
from gdlib.callbacks import Callback, CallbackList, History, ProgbarLogger
from gdlib.layers import Dense


def data(n=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, size=n)


def model():
    m = models.Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
         "on_test_end", "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
         "on_test_batch_end", "on_batch_begin", "on_batch_end"]


class Recorder(Callback):
    """Records every hook call with its epoch or batch number."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _recording(hook):
    base = getattr(Callback, hook)

    def method(self, *args, **kwargs):
        self.calls.append((hook,) + tuple(a for a in args if isinstance(a, int)))
        return base(self, *args, **kwargs)

    return method


for _hook in HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def test_fit_calls_the_hooks_in_keras_order():
    x, y = data(10)
    recorder = Recorder()
    model().fit(x, y, batch_size=4, epochs=2, verbose=0, validation_split=0.2, callbacks=[recorder])
    calls = [c for c in recorder.calls if c[0] not in ("on_batch_begin", "on_batch_end")]
    epoch = [("on_train_batch_begin", 0), ("on_train_batch_end", 0),
             ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
             ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_end",)]
    assert calls == ([("on_train_begin",), ("on_epoch_begin", 0)] + epoch + [("on_epoch_end", 0)]
                     + [("on_epoch_begin", 1)] + epoch + [("on_epoch_end", 1), ("on_train_end",)])
    # The legacy names are still called, from the train variants.
    assert ("on_batch_end", 1) in recorder.calls


def test_history_records_every_epoch():
    x, y = data()
    m = model()
    history = m.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(x, y))
    assert isinstance(history, History) and m.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 and all(isinstance(e, float) for e in v) for v in history.history.values())
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}


def test_epoch_logs_reach_callbacks_and_stop_training_ends_fit():
    class StopAfterTwo(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.last_logs = logs
            if epoch == 1:
                self.model.stop_training = True

    x, y = data()
    stopper = StopAfterTwo()
    history = model().fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1]
    assert stopper.last_logs["loss"] == history.history["loss"][-1]


def test_initial_epoch():
    x, y = data()
    assert model().fit(x, y, epochs=3, initial_epoch=1, verbose=0).epoch == [1, 2]


def test_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = data()
    model().fit(x, y, batch_size=4, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 - ") and "/step - accuracy: " in lines[1] and " - loss: " in lines[1]


def test_verbose_1_without_a_terminal_prints_the_finished_bar_per_epoch(capsys):
    x, y = data()
    model().fit(x, y, batch_size=4, epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].startswith("3/3 " + "━" * 20)


def test_verbose_1_in_a_terminal_redraws_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgbarLogger(interval=0, stream=stream)
    x, y = data(40)
    model().fit(x, y, batch_size=4, epochs=1, verbose=1, callbacks=[bar])
    text = stream.getvalue()
    assert text.count("\r") == 11 and text.endswith("\n") and text.count("\n") == 1
    assert " - loss: " in text


def test_verbose_0_is_silent_and_evaluate_prints_one_line(capsys):
    x, y = data()
    m = model()
    m.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    m.evaluate(x, y)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("1/1 ") and "accuracy: " in out[0]


def test_callback_list_rejects_other_objects_and_adds_history_once():
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([print])
    history = History()
    assert CallbackList([history], add_history=True).callbacks == [history]
    assert not CallbackList([History()]).needs_batch_logs
    assert CallbackList([ProgbarLogger()]).needs_batch_logs


def test_number_format_matches_keras():
    assert callbacks._format_value(0.123456) == "0.1235"
    assert callbacks._format_value(0.0001234) == "1.2340e-04"
    assert callbacks._format_time(0.0023) == "2ms/step"
    assert callbacks._format_time(0.0000023) == "2us/step"


def test_a_callback_can_take_over_a_nonfinite_loss():
    class StopOnNaN(Callback):
        handles_nonfinite_loss = True

        def on_train_batch_end(self, batch, logs=None):
            if not np.isfinite(logs["loss"]):
                self.batch = batch
                self.model.stop_training = True

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32) * 100
    y = rng.normal(size=(64, 1)).astype(np.float32) * 100
    m = models.Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.optimizer.learning_rate = 10.0
    stopper = StopOnNaN()
    history = m.fit(x, y, epochs=50, batch_size=32, verbose=0, callbacks=[stopper])
    assert len(history.epoch) < 50 and not np.isfinite(history.history["loss"][-1])
    assert all(np.isfinite(w).all() for w in m.get_weights())
