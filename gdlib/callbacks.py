"""Callbacks: code that ``fit``, ``evaluate`` and ``predict`` call at fixed moments.

The hook names are Keras's. ``fit`` calls, in order::

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)   # each batch
        (validation: on_test_begin, on_test_batch_*, on_test_end)
      on_epoch_end(epoch, logs)      # logs: {'loss': ..., 'val_loss': ...}
    on_train_end

``epoch`` and ``batch`` count from 0. A callback reads and changes the model
through ``self.model``; setting ``self.model.stop_training = True`` ends
``fit`` after the current epoch. ``fit`` always adds a :class:`History`, and a
:class:`ProgbarLogger` when ``verbose`` is not 0.

To write your own, subclass :class:`Callback` and override the hooks you need.
"""

import sys
import time

import numpy as np


class Callback:
    """Base class: every hook exists and does nothing.

    Attributes
    ----------
    model : Sequential
        The model being trained, set by ``fit`` through ``set_model``.
    params : dict
        ``{'verbose': ..., 'epochs': ..., 'steps': ...}``, set through ``set_params``.
    handles_nonfinite_loss : bool
        ``fit`` raises an error when the loss becomes NaN or infinite, unless a
        callback with this set to True (e.g. a ``TerminateOnNaN``) is present: then
        the batch's update is skipped, the logs carry the NaN, and the callback decides.
    """

    handles_nonfinite_loss = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    # Batch-level hooks. As in Keras, the train variants fall back to the
    # older `on_batch_begin` / `on_batch_end`.
    def on_batch_begin(self, batch, logs=None):
        """Called before each training batch (legacy alias of ``on_train_batch_begin``)."""

    def on_batch_end(self, batch, logs=None):
        """Called after each training batch (legacy alias of ``on_train_batch_end``)."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """``logs`` holds the running means of the loss and metrics over the epoch so far."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    # Epoch-level hooks.
    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        """``logs``: the epoch's ``loss``, metrics and, with validation, ``val_*`` values."""

    # Whole-run hooks.
    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


_BATCH_HOOKS = (
    "on_batch_begin",
    "on_batch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


def _overrides_batch_hooks(callback):
    return any(getattr(type(callback), hook) is not getattr(Callback, hook) for hook in _BATCH_HOOKS)


class CallbackList:
    """Calls a list of callbacks in order, hook by hook.

    Parameters
    ----------
    callbacks : list of Callback, optional
    add_history : bool
        Append a :class:`History` unless one is in the list already.
    add_progbar : bool
        Append a :class:`ProgbarLogger` unless one is in the list already.
    model : Sequential, optional
        Given to every callback through ``set_model``.
    verbose, epochs, steps : optional
        The run's parameters, given to every callback through ``set_params``.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 verbose=None, epochs=None, steps=None):
        callbacks = [] if callbacks is None else list(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "`callbacks` must be a list of gdlib.callbacks.Callback instances. "
                    f"Received: {callback!r}"
                )
        self.callbacks = callbacks
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            self.callbacks.append(ProgbarLogger())
        if add_history and not any(isinstance(c, History) for c in callbacks):
            self.callbacks.append(History())
        self.model = None
        if model is not None:
            self.set_model(model)
        self.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})

    @property
    def needs_batch_logs(self):
        """True when some callback overrides a batch hook, so per-batch logs must be built."""
        return any(_overrides_batch_hooks(c) for c in self.callbacks)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_model(self, model):
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)


class History(Callback):
    """Records the logs of every epoch; ``fit`` returns it.

    Attributes
    ----------
    history : dict
        ``{'loss': [epoch 0, epoch 1, ...], 'accuracy': [...], 'val_loss': [...]}``.
    epoch : list of int
        The epochs recorded, from 0.
    params : dict
        ``{'verbose': ..., 'epochs': ..., 'steps': ...}``.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


def _format_value(value):
    # Keras's progress-bar number format.
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_time(seconds_per_step):
    if seconds_per_step >= 1 or seconds_per_step == 0:
        return f"{seconds_per_step:.0f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


def _is_dynamic_display(stream):
    # A terminal or a notebook can redraw a line with "\r"; a log file cannot.
    if type(stream).__module__.startswith("ipykernel"):  # a Jupyter notebook's output
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class ProgbarLogger(Callback):
    """Prints progress to standard output, as Keras does.

    ``verbose=1``: ``Epoch 3/20`` then a bar redrawn in place,
    ``45/45 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step - loss: 0.1234``, with the estimated
    time left while the epoch runs. Where the output cannot be redrawn (a file, a
    pipe) only the finished line of each epoch is printed.
    ``verbose=2``: one line per epoch, ``45/45 - 0s - 1ms/step - loss: 0.1234``.
    """

    def __init__(self, width=20, interval=0.05, stream=None):
        super().__init__()
        self.width = width
        self.interval = interval
        self.stream = stream
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose") or 0
        self.epochs = params.get("epochs") or 1
        self.target = params.get("steps")

    def _write(self, text):
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def _begin(self):
        self._start = time.perf_counter()
        self._last_update = 0.0
        self._seen = 0
        self._previous_width = 0
        self._dynamic = _is_dynamic_display(self.stream or sys.stdout)

    def _update(self, batch, logs):
        self._seen = batch + 1
        if self.verbose != 1 or not self._dynamic:
            return
        now = time.perf_counter()
        if now - self._last_update < self.interval:
            return
        self._last_update = now
        self._draw(logs, now, final=False)

    def _finish(self, logs):
        if self.target is None:
            self.target = self._seen
        now = time.perf_counter()
        if self.verbose == 1:
            self._draw(logs, now, final=True)
        elif self.verbose == 2:
            elapsed = now - self._start
            line = f"{self._counter()} - {elapsed:.0f}s - {_format_time(elapsed / max(self.target, 1))}"
            self._write(line + self._metrics(logs) + "\n")

    # In fit: one bar per epoch. Validation inside fit is silent, as in Keras.
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._begin()
        if self.verbose and self.epochs > 1:
            self._write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    # evaluate and predict: one bar for the whole pass.
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._begin()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _counter(self):
        digits = len(str(self.target))
        return f"{self.target if self._seen == 0 else self._seen:>{digits}}/{self.target}"

    @staticmethod
    def _metrics(logs):
        return "".join(f" - {key}: {_format_value(value)}" for key, value in (logs or {}).items())

    def _draw(self, logs, now, final):
        elapsed = now - self._start
        steps = self.target if final else self._seen
        done = int(self.width * steps / self.target) if self.target else 0
        bar = "━" * done + "─" * (self.width - done)
        per_step = elapsed / max(steps, 1)
        if final:
            info = f" {elapsed:.0f}s {_format_time(per_step)}"
        else:
            info = f" {per_step * (self.target - steps):.0f}s {_format_time(per_step)}"
        digits = len(str(self.target))
        line = f"{steps:>{digits}}/{self.target} {bar}{info}{self._metrics(logs)}"
        if not self._dynamic:
            self._write(line + "\n")
            return
        padding = " " * max(self._previous_width - len(line), 0)
        self._previous_width = len(line)
        self._write("\r" + line + padding + ("\n" if final else ""))


def make_logs(values):
    """Turn ``{'loss': np.float32(0.5)}`` into plain Python floats, sorted by key (as Keras)."""
    return {key: float(np.asarray(value)) for key, value in sorted(values.items())}
