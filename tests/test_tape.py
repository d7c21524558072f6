"""GradientTape: custom training loops give exactly what fit gives, and clear errors otherwise."""

import numpy as np
import pytest

import gdlib
from gdlib import losses, models, optimizers
from gdlib.layers import Dense, Dropout
from gdlib import tape as tape_module
from gdlib.tape import GradientTape


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.5)
    return x, labels


def network(output_activation="softmax", units=3, seed=0):
    from gdlib.initializers import GlorotUniform

    return models.Sequential([
        Dense(8, activation="tanh", input_shape=(5,), kernel_initializer=GlorotUniform(seed=seed)),
        Dense(units, activation=output_activation, kernel_initializer=GlorotUniform(seed=seed + 1)),
    ])


def twins(**kwargs):
    a, b = network(**kwargs), network(**kwargs)
    b.set_weights(a.get_weights())
    return a, b


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.01),
}

LOSSES = {
    # (loss, output activation, targets from labels): fused and unfused backward passes
    "sparse_cce": (lambda: losses.SparseCategoricalCrossentropy(), "softmax", lambda labels: labels),
    "sparse_cce_sum": (lambda: losses.SparseCategoricalCrossentropy(reduction="sum"), "softmax", lambda labels: labels),
    "cce_smoothing": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax",
                      lambda labels: np.eye(3, dtype=np.float32)[labels]),
    "cce_logits": (lambda: losses.CategoricalCrossentropy(from_logits=True), None,
                   lambda labels: np.eye(3, dtype=np.float32)[labels]),
    "mse": (lambda: losses.MeanSquaredError(), "sigmoid", lambda labels: np.eye(3, dtype=np.float32)[labels]),
}


def tape_steps(model, optimizer, loss_fn, x, y, batch_size, epochs):
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            with gdlib.GradientTape() as tape:
                predictions = model(xb, training=True)
                loss = loss_fn(yb, predictions)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_tape_loop_gives_the_same_weights_as_fit(optimizer_name, loss_name):
    make_loss, activation, targets = LOSSES[loss_name]
    x, labels = data(40)  # 40 = 4 batches of 9 and a last batch of 4
    y = targets(labels)
    by_fit, by_tape = twins(output_activation=activation)
    by_fit.compile(optimizer=OPTIMIZERS[optimizer_name](), loss=make_loss())
    by_fit.fit(x, y, batch_size=9, epochs=3, shuffle=False, verbose=0)
    tape_steps(by_tape, OPTIMIZERS[optimizer_name](), make_loss(), x, y, batch_size=9, epochs=3)
    before = network(output_activation=activation).get_weights()
    for a, b, start in zip(by_fit.get_weights(), by_tape.get_weights(), before):
        assert np.array_equal(a, b)
        assert not np.array_equal(a, start)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_train_on_batch_gives_the_same_weights_and_losses_as_the_tape(optimizer_name):
    x, y = data(40)
    by_batch, by_tape = twins()
    by_batch.compile(optimizer=OPTIMIZERS[optimizer_name](), loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"])
    optimizer, loss_fn = OPTIMIZERS[optimizer_name](), losses.SparseCategoricalCrossentropy()
    for start in range(0, 40, 8):
        xb, yb = x[start:start + 8], y[start:start + 8]
        expected = by_batch.test_on_batch(xb, yb, return_dict=True)
        logs = by_batch.train_on_batch(xb, yb, return_dict=True)
        assert logs == expected  # the loss and accuracy from before the update
        with GradientTape() as tape:
            loss = loss_fn(yb, by_tape(xb, training=True))
        assert float(loss) == logs["loss"]
        optimizer.apply_gradients(zip(tape.gradient(loss, by_tape.trainable_variables),
                                      by_tape.trainable_variables))
    for a, b in zip(by_batch.get_weights(), by_tape.get_weights()):
        assert np.array_equal(a, b)


def test_one_gradient_by_hand():
    # One Dense(1) on two samples with MSE: L = ((w.x1 + b - y1)^2 + (w.x2 + b - y2)^2) / 2.
    model = models.Sequential([Dense(1, input_shape=(2,))])
    model.set_weights([np.array([[1.0], [2.0]], np.float32), np.array([0.5], np.float32)])
    x = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    y = np.array([[1.0], [1.0]], np.float32)
    with GradientTape() as tape:
        loss = losses.MeanSquaredError()(y, model(x))
    # predictions 1.5 and 2.5, errors 0.5 and 1.5; dL/dpred = error (= 2 * error / 2)
    # dL/dw = x^T [0.5, 1.5] = [0.5, 1.5]; dL/db = 0.5 + 1.5 = 2
    grad_kernel, grad_bias = tape.gradient(loss, model.trainable_variables)
    np.testing.assert_allclose(grad_kernel, [[0.5], [1.5]])
    np.testing.assert_allclose(grad_bias, [2.0])
    assert float(loss) == pytest.approx((0.25 + 2.25) / 2)


def test_gradients_follow_the_order_requested_and_are_copies():
    x, y = data(10)
    model = network()
    loss_fn = losses.SparseCategoricalCrossentropy()
    with GradientTape(persistent=True) as tape:
        loss = loss_fn(y, model(x, training=True))
    kernel_0, bias_0, kernel_1, bias_1 = model.trainable_variables
    in_order = tape.gradient(loss, [kernel_0, bias_0, kernel_1, bias_1])
    reversed_order = tape.gradient(loss, [bias_1, kernel_1, bias_0, kernel_0])
    assert [g.shape for g in in_order] == [v.shape for v in model.trainable_variables]
    for a, b in zip(in_order, reversed_order[::-1]):
        assert np.array_equal(a, b)
    single = tape.gradient(loss, kernel_1)
    assert isinstance(single, np.ndarray) and np.array_equal(single, in_order[2])
    # Another backward pass overwrites the layers' gradients, not what the tape returned.
    saved = in_order[2].copy()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x[:3], y[:3])
    assert np.array_equal(in_order[2], saved)
    assert in_order[2] is not model.layers[1].gradients[0]


def test_tape_gradient_matches_central_differences():
    x, y = data(6)
    model = network()
    loss_fn = losses.SparseCategoricalCrossentropy()
    with GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grad = tape.gradient(loss, model.layers[0].kernel)
    kernel = model.layers[0].kernel
    h = 1e-2
    for index in [(0, 0), (3, 5), (4, 7)]:
        old = kernel[index]
        kernel[index] = old + h
        up = float(loss_fn(y, model(x)))
        kernel[index] = old - h
        down = float(loss_fn(y, model(x)))
        kernel[index] = old
        assert grad[index] == pytest.approx((up - down) / (2 * h), rel=2e-2, abs=1e-4)


def test_dropout_masks_of_the_recorded_call_are_used():
    x, y = data(16)
    model = models.Sequential([Dense(8, activation="relu", input_shape=(5,)), Dropout(0.5, seed=1),
                               Dense(3, activation="softmax")])
    loss_fn = losses.SparseCategoricalCrossentropy()
    with GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grad_kernel_0 = tape.gradient(loss, model.layers[0].kernel)
    dropped = model.layers[1]._mask == 0
    # A hidden unit dropped for every sample gets no gradient at all.
    assert np.all(grad_kernel_0[:, dropped.all(axis=0)] == 0)


def test_nested_tapes_both_record():
    x, y = data(8)
    model = network()
    loss_fn = losses.SparseCategoricalCrossentropy()
    with GradientTape() as outer:
        with GradientTape() as inner:
            loss = loss_fn(y, model(x))
    assert np.array_equal(inner.gradient(loss, model.layers[1].bias), outer.gradient(loss, model.layers[1].bias))


def test_gdlib_exports_the_tape():
    assert gdlib.GradientTape is GradientTape


# ---------------------------------------------------------------- errors
SUPPORTED = "differentiates one thing: a gdlib loss"


def recorded(loss_fn=None, x=None, y=None):
    if x is None:
        x, y = data(8)
    model = network()
    loss_fn = loss_fn or losses.SparseCategoricalCrossentropy()
    return model, loss_fn, x, y


def test_second_gradient_call_on_a_non_persistent_tape():
    model, loss_fn, x, y = recorded()
    with GradientTape() as tape:
        loss = loss_fn(y, model(x))
    tape.gradient(loss, model.trainable_variables)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used to compute one set"):
        tape.gradient(loss, model.trainable_variables)


def test_loss_computed_by_other_numpy_code():
    model, loss_fn, x, y = recorded()
    with GradientTape() as tape:
        loss = loss_fn(y, model(x)) + 0.01 * np.sum(model.layers[0].kernel ** 2)
    with pytest.raises(ValueError, match="computed by other code .* cannot differentiate.*" + SUPPORTED):
        tape.gradient(loss, model.trainable_variables)


def test_plain_numpy_loss_function():
    model, _, x, y = recorded()
    targets = np.eye(3, dtype=np.float32)[y]
    with GradientTape() as tape:
        loss = np.mean((model(x) - targets) ** 2)
    with pytest.raises(ValueError, match="no gdlib loss was called under this tape.*" + SUPPORTED):
        tape.gradient(loss, model.trainable_variables)


def test_per_sample_loss_function_points_to_its_class():
    model, _, x, y = recorded()
    with GradientTape() as tape:
        loss = losses.mean_squared_error(np.eye(3, dtype=np.float32)[y], model(x))
    with pytest.raises(ValueError, match=r"shape \(8,\).*MeanSquaredError\(\)"):
        tape.gradient(loss, model.trainable_variables)


def test_wrapped_function_loss_has_no_gradient():
    def my_loss(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    model, loss_fn, x, y = recorded(losses.get(my_loss))
    with GradientTape() as tape:
        loss = loss_fn(np.eye(3, dtype=np.float32)[y], model(x))
    with pytest.raises(ValueError, match="has no gradient.*" + SUPPORTED):
        tape.gradient(loss, model.trainable_variables)


def test_a_variable_the_loss_does_not_use():
    model, loss_fn, x, y = recorded()
    other = network()
    with GradientTape() as tape:
        loss = loss_fn(y, model(x))
    with pytest.raises(ValueError, match=r"Source 1 \(an array of shape \(8,\)\) is not a trainable variable"):
        tape.gradient(loss, [model.layers[0].kernel, other.layers[0].bias])
    with GradientTape() as tape:
        loss = loss_fn(y, model(x))
    with pytest.raises(ValueError, match="not copies"):
        tape.gradient(loss, model.get_weights())


def test_two_model_calls_that_overwrite_each_others_cache():
    model, loss_fn, x, y = recorded()
    with GradientTape() as tape:
        first = model(x[:4], training=True)
        second = model(x[4:], training=True)
        loss = loss_fn(y[:4], first)
    with pytest.raises(ValueError, match="called again after the call whose output the loss used"):
        tape.gradient(loss, model.trainable_variables)
    # The loss of the latest call is fine.
    with GradientTape() as tape:
        model(x[:4], training=True)
        loss = loss_fn(y[4:], model(x[4:], training=True))
    assert len(tape.gradient(loss, model.trainable_variables)) == 4
    assert second is not None


def test_predictions_changed_after_the_call():
    model, loss_fn, x, y = recorded()
    with GradientTape() as tape:
        predictions = model(x) * 1.0
        loss = loss_fn(y, predictions)
    with pytest.raises(ValueError, match="`y_pred` is not the output of a model called under this tape"):
        tape.gradient(loss, model.trainable_variables)


def test_nothing_recorded_outside_the_block():
    model, loss_fn, x, y = recorded()
    tape = GradientTape()
    loss = loss_fn(y, model(x))
    with pytest.raises(ValueError, match="no gdlib loss was called under this tape"):
        tape.gradient(loss, model.trainable_variables)
    with tape:
        loss = loss_fn(y, np.full((8, 3), 1 / 3, np.float32))
    with pytest.raises(ValueError, match="no gdlib model was called under this tape"):
        tape.gradient(loss, model.trainable_variables)


def test_unsupported_arguments():
    with pytest.raises(ValueError, match="watch_accessed_variables=False"):
        GradientTape(watch_accessed_variables=False)
    with pytest.raises(NotImplementedError, match="cannot watch arbitrary arrays"):
        GradientTape().watch(np.zeros(3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(sample_weight=np.ones(4)), "does not support `sample_weight`"),
    (dict(class_weight={0: 1.0}), "does not support `class_weight`"),
])
def test_train_on_batch_rejects_weights(kwargs, message):
    model = network()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(4)
    with pytest.raises(ValueError, match=message):
        model.train_on_batch(x, y, **kwargs)


def test_predict_on_batch_is_inference():
    x, _ = data(4)
    model = network()
    assert np.array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))


def test_sum_reduction_gives_n_times_the_mean_gradient():
    x, y = data(8)
    model = network()
    gradients = {}
    for reduction in ("sum_over_batch_size", "sum"):
        with GradientTape() as tape:
            loss = losses.SparseCategoricalCrossentropy(reduction=reduction)(y, model(x))
        gradients[reduction] = tape.gradient(loss, model.trainable_variables)
    for mean, total in zip(gradients["sum_over_batch_size"], gradients["sum"]):
        np.testing.assert_allclose(total, 8 * mean, rtol=1e-5, atol=1e-7)


def test_recording_is_true_inside_the_with_block_only():
    assert not tape_module.recording()
    with GradientTape():
        assert tape_module.recording()
        with GradientTape():
            assert tape_module.recording()
        assert tape_module.recording()
    assert not tape_module.recording()
