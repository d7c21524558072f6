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

Ready-made callbacks, with Keras 3's names, arguments and behaviour:
:class:`EarlyStopping`, :class:`LearningRateScheduler`, :class:`ReduceLROnPlateau`,
:class:`TerminateOnNaN` and :class:`ModelCheckpoint` (weights to ``.npz``).
The two that change the learning rate add it to each epoch's logs, so
``history.history['learning_rate']`` records it, as in Keras 3.

To write your own, subclass :class:`Callback` and override the hooks you need.
"""

import os
import sys
import time
import warnings

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


def _format_eta(seconds):
    # Keras's estimated time left: "42s", "3:05", "1:02:03".
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _is_notebook(stream):
    return type(stream).__module__.startswith("ipykernel")  # a Jupyter kernel's output stream


def _notebook_display(text, handle=None):
    """Show ``text`` as one output of the running cell, or replace what ``handle`` shows.

    A notebook keeps only the last version of such an output, so a saved
    notebook (or a page built from it) shows each epoch's finished bar once,
    not every frame of the animation.
    """
    from IPython.display import display

    data = {"text/plain": text}
    if handle is None:
        return display(data, raw=True, display_id=True)
    handle.update(data, raw=True)
    return handle


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
    In a Jupyter notebook the bar is one output of the cell, updated in place,
    so a saved notebook keeps only each epoch's finished bar.
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
        self._notebook = _is_notebook(self.stream or sys.stdout)
        self._handle = None

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
            info = f" {_format_eta(per_step * (self.target - steps))} {_format_time(per_step)}"
        digits = len(str(self.target))
        line = f"{steps:>{digits}}/{self.target} {bar}{info}{self._metrics(logs)}"
        if self._notebook:
            self._handle = _notebook_display(line, self._handle)
            return
        if not self._dynamic:
            self._write(line + "\n")
            return
        padding = " " * max(self._previous_width - len(line), 0)
        self._previous_width = len(line)
        self._write("\r" + line + padding + ("\n" if final else ""))


def make_logs(values):
    """Turn ``{'loss': np.float32(0.5)}`` into plain Python floats, sorted by key (as Keras)."""
    return {key: float(np.asarray(value)) for key, value in sorted(values.items())}


# ====================================================================== monitoring
_MAXIMIZED_METRICS = {
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
}


def _print_message(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class MonitorCallback(Callback):
    r"""Base of the callbacks that watch one logged quantity (Keras's ``MonitorCallback``).

    Parameters
    ----------
    monitor : str
        The key in the epoch's logs, e.g. ``'val_loss'`` or ``'val_accuracy'``.
    mode : {'auto', 'min', 'max'}
        Whether smaller or larger is better. ``'auto'`` reads it from the name:
        losses (``'loss'``, ``'val_loss'``, ``'mse'``, ...) are minimised,
        accuracies maximised; any other name raises a ``ValueError``.
    baseline : float, optional
        The value to beat (the initial ``best``).
    min_delta : float
        The smallest change that counts as an improvement.

    Notes
    -----
    A value :math:`v` improves on the best :math:`b` so far when
    :math:`v < b - \delta` (mode ``min``) or :math:`v > b + \delta` (mode ``max``),
    with :math:`\delta` = ``min_delta``.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            from gdlib import metrics

            name = self.monitor.removeprefix("val_")
            if name == "loss" or name in metrics.LOSS_METRICS:
                self.monitor_op = np.less
            elif name in _MAXIMIZED_METRICS:
                self.monitor_op = np.greater
            else:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "gdlib isn't able to automatically determine whether that metric should "
                    "be maximized or minimized. Pass `mode='max'` in order to monitor based "
                    "on the highest metric value, or pass `mode='min'` in order to use the "
                    "lowest value."
                )
        if self.monitor_op is np.less:
            self.min_delta *= -1  # v - (-delta) < best  <=>  v < best - delta

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving.

    At the end of every epoch, ``fit`` asks: has ``monitor`` improved by more than
    ``min_delta`` on the best value so far? After ``patience`` epochs in a row
    without improvement, training stops.

    Parameters
    ----------
    monitor : str
        Key of the epoch logs to watch (default ``'val_loss'``).
    min_delta : float
        Smaller changes do not count as improvements.
    patience : int
        Epochs without improvement after which training stops.
    verbose : 0 or 1
        1 prints a message when the callback acts.
    mode : {'auto', 'min', 'max'}
        Whether the quantity should decrease or increase (``'auto'``: from its name).
    baseline : float, optional
        Training stops after ``patience`` epochs unless the quantity beats this value.
    restore_best_weights : bool
        At the end of training, put back the weights from the end of the best epoch.
    start_from_epoch : int
        Epochs to wait before monitoring starts (a warm-up).

    Attributes
    ----------
    stopped_epoch : int
        The epoch (from 0) at which training was stopped, 0 if it was not.
    best_epoch : int
        The epoch of the best value seen.

    Examples
    --------
    >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Keep the first monitored epoch's weights, so there is always something to restore.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Only restart the count if the baseline is beaten as well.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_message(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_message(
                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value


def _set_learning_rate(optimizer, value, who):
    """``optimizer.learning_rate = value``, or a clear error if it follows a schedule."""
    from gdlib.schedules import LearningRateSchedule

    given = getattr(optimizer, "_learning_rate", None)  # what the optimizer was created with
    if isinstance(given, LearningRateSchedule) or callable(given):
        raise TypeError(
            f"{who} cannot set the learning rate of an optimizer created with a schedule "
            f"(learning_rate={given!r}): the schedule already decides "
            "the learning rate at every step. Use one or the other: give the optimizer a "
            f"float learning rate to use {who}."
        )
    optimizer.learning_rate = value


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr)`` receives the epoch (from 0) and the current
        learning rate (a float) and returns the new one, a float. (A function of
        ``epoch`` alone is accepted too, as in Keras.)
    verbose : 0 or 1
        1 prints the new learning rate at each epoch.

    Notes
    -----
    The optimizer must have a float learning rate: one created with a
    ``LearningRateSchedule`` already changes it at every step, and this callback
    raises a ``TypeError``. The learning rate of each epoch is recorded in the
    logs (and so in ``history.history['learning_rate']``), as Keras 3 does.

    Examples
    --------
    >>> def halve_every_10(epoch, lr):
    ...     return lr / 2 if epoch > 0 and epoch % 10 == 0 else lr
    >>> model.fit(x, y, epochs=50, callbacks=[LearningRateScheduler(halve_every_10)])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "`schedule` must be a function `schedule(epoch, lr)` returning the learning rate. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a schedule of the epoch alone (Keras's old API)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(
                "The output of the `schedule` function should be a float. "
                f"Got: {learning_rate!r}"
            )
        _set_learning_rate(optimizer, float(learning_rate), "LearningRateScheduler")
        if self.verbose > 0:
            _print_message(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(MonitorCallback):
    r"""Multiply the learning rate by ``factor`` when a quantity has stopped improving.

    Parameters
    ----------
    monitor : str
        Key of the epoch logs to watch (default ``'val_loss'``).
    factor : float
        The learning rate becomes ``max(lr * factor, min_lr)``; must be < 1.
    patience : int
        Epochs without improvement before the learning rate is reduced.
    verbose : 0 or 1
        1 prints a message at each reduction.
    mode : {'auto', 'min', 'max'}
        Whether the quantity should decrease or increase.
    min_delta : float
        Smaller changes do not count as improvements.
    cooldown : int
        Epochs to wait after a reduction before counting again.
    min_lr : float
        Lower bound of the learning rate.

    Notes
    -----
    Every epoch the learning rate is written to the logs as ``'learning_rate'``,
    so ``history.history['learning_rate']`` shows each reduction, as in Keras 3.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    _set_learning_rate(optimizer, new_lr, "ReduceLROnPlateau")
                    if self.verbose > 0:
                        _print_message(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite.

    Parameters
    ----------
    raise_error : bool
        Raise a ``RuntimeError`` instead of stopping quietly (Keras 3.11+).

    Notes
    -----
    Without this callback ``fit`` raises an error when the loss diverges. With
    it, ``fit`` leaves the decision here: that batch's update is skipped (so the
    weights stay finite), the batch logs carry the NaN, and training stops at
    the end of the batch; the epoch's logs (and the history) record the NaN.
    """

    handles_nonfinite_loss = True

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            _print_message(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class ModelCheckpoint(MonitorCallback):
    """Save the model's weights to a NumPy ``.npz`` file during training.

    Parameters
    ----------
    filepath : str or os.PathLike
        Must end in ``.npz``. May contain ``str.format`` fields filled from the
        epoch (from 1) and the epoch's logs, e.g. ``'ckpt-{epoch:02d}-{val_loss:.2f}.npz'``;
        ``{batch}`` too when ``save_freq`` is an integer.
    monitor : str
        The quantity compared with ``save_best_only`` (default ``'val_loss'``).
    verbose : 0 or 1
        1 prints a message at each save.
    save_best_only : bool
        Only save when ``monitor`` improves on the best value so far.
    save_weights_only : bool
        gdlib saves weights only (``model.save_weights``), so this must be True
        (its default here; Keras's default False saves a ``.keras`` model file).
    mode : {'auto', 'min', 'max'}
        Whether ``monitor`` should decrease or increase.
    save_freq : 'epoch' or int
        Save at the end of every epoch, or every ``save_freq`` batches.
    initial_value_threshold : float, optional
        The value ``monitor`` must beat for a first save with ``save_best_only``.

    Examples
    --------
    >>> checkpoint = ModelCheckpoint("best.npz", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=20, callbacks=[checkpoint])
    >>> model.load_weights("best.npz")
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=True, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer values"
            )
        if not save_weights_only:
            raise ValueError(
                "gdlib saves a model's weights only (there is no whole-model file format): "
                "use `save_weights_only=True` and rebuild the model before `load_weights`. "
                f"Received: save_weights_only={save_weights_only!r}"
            )
        if not self.filepath.endswith(".npz"):
            raise ValueError(
                "The filepath provided must end in `.npz` (gdlib saves weights as a NumPy "
                f"archive). Received: filepath={self.filepath}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch: batches count from 0
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print_message(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            return True
        if self.monitor_op is None:  # saving on batches, before the first epoch ended
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_message(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            _print_message(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs or {})
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used "
                f"is an existing directory: {filepath}"
            )
        if self._should_save_model(epoch, logs, filepath):
            dirname = os.path.dirname(filepath)
            if dirname:
                os.makedirs(dirname, exist_ok=True)
            self.model.save_weights(filepath)

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}. '
                f"Available fields: epoch, {', '.join(logs)}"
            ) from None
