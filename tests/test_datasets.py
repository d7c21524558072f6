"""Tests for gdlib.datasets: shapes, dtypes, ranges, determinism, and the property
each synthetic set exists to show (moons are not linearly separable, random labels
carry no information)."""

import sys

import numpy as np
import pytest

from gdlib import datasets


def best_linear_accuracy_2d(x, y, n_angles=720):
    """Best accuracy any straight line reaches on 2-D binary data.

    Every linear classifier thresholds a projection onto some direction, so the
    best over a fine grid of directions and every threshold is (up to the grid)
    the best a linear model can do.
    """
    best = 0.0
    n = len(y)
    for angle in np.linspace(0.0, np.pi, n_angles, endpoint=False):
        projection = x @ np.array([np.cos(angle), np.sin(angle)])
        labels = y[np.argsort(projection)]
        # Points left of the cut predicted 0 and right of it 1: correct are the 0s
        # on the left plus the 1s on the right, for every cut position.
        zeros_left = np.concatenate([[0], np.cumsum(labels == 0)])
        ones_right = np.concatenate([[0], np.cumsum(labels[::-1] == 1)])[::-1]
        correct = zeros_left + ones_right
        best = max(best, correct.max() / n, (n - correct.min()) / n)
    return best


def linear_classifier_accuracy(x_train, y_train, x_test, y_test, n_classes):
    """Least-squares linear classifier on one-hot targets: train and test accuracy."""

    def design(x):
        return np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)

    weights = np.linalg.lstsq(design(x_train), np.eye(n_classes)[y_train], rcond=None)[0]
    train = np.mean(np.argmax(design(x_train) @ weights, axis=1) == y_train)
    test = np.mean(np.argmax(design(x_test) @ weights, axis=1) == y_test)
    return train, test


# ---------------------------------------------------------------- load_digits


def test_load_digits_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    # 1797 images; train_test_split puts ceil(0.2 * 1797) = 360 in the test set.
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    # Pixels are 0..16, divided by 16: the brightest pixel is exactly 1.
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(10))
    # 16 * x recovers the integer counts.
    np.testing.assert_array_equal(16 * x_train, np.round(16 * x_train))


@pytest.mark.parametrize("seed, test_size", [(0, 0.2), (7, 0.2), (2024, 0.25), (1, 0.33), (3, 100)])
def test_load_digits_split_equals_sklearn_train_test_split(seed, test_size):
    # gdlib ships the images and splits in NumPy; both must equal scikit-learn's own.
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    digits = sklearn_datasets.load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        digits.data, digits.target, test_size=test_size, random_state=seed
    )
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(test_size=test_size, seed=seed)
    np.testing.assert_array_equal(x_train, (x_tr / 16).astype(np.float32))
    np.testing.assert_array_equal(x_test, (x_te / 16).astype(np.float32))
    np.testing.assert_array_equal(y_train, y_tr)
    np.testing.assert_array_equal(y_test, y_te)


def test_load_digits_is_deterministic_and_seed_changes_split():
    (a, ya), _ = datasets.load_digits(seed=3)
    (b, yb), _ = datasets.load_digits(seed=3)
    (c, _), _ = datasets.load_digits(seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


def test_load_digits_test_size_and_images():
    (x_train, _), (x_test, _) = datasets.load_digits(test_size=0.5)
    assert len(x_train) == 898 and len(x_test) == 899
    (flat, _), (flat_test, _) = datasets.load_digits()
    (images, _), (images_test, _) = datasets.load_digits(return_images=True)
    assert images.shape == (1437, 8, 8) and images_test.shape == (360, 8, 8)
    np.testing.assert_array_equal(images.reshape(len(images), 64), flat)


def test_load_digits_needs_numpy_alone():
    # A fresh interpreter in which scikit-learn (and matplotlib) cannot be imported, as after
    # `pip install gdlib` or `pip install -e '.[grading]'`: the digits still load, same split.
    import subprocess

    code = (
        "import sys\n"
        "for name in ('sklearn', 'scipy', 'matplotlib'):\n"
        "    sys.modules[name] = None\n"
        "from gdlib import datasets\n"
        "(x, y), (xt, yt) = datasets.load_digits()\n"
        "print(x.shape, xt.shape, int(y[:20].sum()), float(x.sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    (x, y), (xt, _) = datasets.load_digits()
    assert out.stdout.split() == ["(1437,", "64)", "(360,", "64)", str(int(y[:20].sum())),
                                  str(float(x.sum()))]


def test_the_shipped_digits_are_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    digits = sklearn_datasets.load_digits()
    pixels, target = datasets._digits_data()
    np.testing.assert_array_equal(pixels, digits.data)
    np.testing.assert_array_equal(target, digits.target)


def test_the_digits_file_ships_with_its_licence():
    folder = datasets._DIGITS_FILE.parent
    licence = (folder / "DIGITS-LICENSE.md").read_text()
    assert "CC BY 4.0" in licence and "Alpaydin" in licence and "10.24432/C50P49" in licence


def test_load_digits_returns_arrays_the_caller_may_change():
    (x_train, y_train), _ = datasets.load_digits()
    x_train[0] = 0.0  # no "read-only" error: the cached data stays untouched
    y_train[0] = 0
    (fresh, _), _ = datasets.load_digits()
    assert fresh[0].any()


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1797, -3, "0.2", True])
def test_load_digits_rejects_a_split_with_an_empty_side(test_size):
    with pytest.raises(ValueError, match="test_size"):
        datasets.load_digits(test_size=test_size)


# ---------------------------------------------------------------- make_moons


def test_make_moons_shapes_dtypes_and_balance():
    x, y = datasets.make_moons(n_samples=101, noise=0.1, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    # The outer moon gets n // 2 = 50, the inner one the remaining 51.
    assert np.sum(y == 0) == 50 and np.sum(y == 1) == 51


def test_make_moons_without_noise_lies_on_the_two_half_circles():
    x, y = datasets.make_moons(n_samples=200, noise=0.0, seed=0)
    outer, inner = x[y == 0], x[y == 1]
    # Class 0 on the unit circle's upper half; class 1 on the circle of radius 1
    # around (1, 0.5), lower half.
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-6)
    assert outer[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0, atol=1e-6)
    assert inner[:, 1].max() <= 0.5 + 1e-6


def test_make_moons_is_deterministic_and_seeded():
    a = datasets.make_moons(n_samples=50, noise=0.2, seed=1)
    b = datasets.make_moons(n_samples=50, noise=0.2, seed=1)
    c = datasets.make_moons(n_samples=50, noise=0.2, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_moons_are_not_linearly_separable_but_are_separable():
    x, y = datasets.make_moons(n_samples=200, noise=0.0, seed=0)
    # No straight line gets even 90% right ...
    assert best_linear_accuracy_2d(x.astype(np.float64), y) < 0.9
    # ... yet the classes do not overlap: every point's nearest neighbour (other than
    # itself) has its label, so a non-linear boundary classifies all of them.
    distances = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.all(y[np.argmin(distances, axis=1)] == y)


def test_linear_check_can_detect_a_linearly_separable_set():
    # The helper must be able to report separability, or the test above proves nothing.
    x, y = datasets.make_blobs(n_samples=200, centers=[[-3.0, 0.0], [3.0, 0.0]], cluster_std=0.5, seed=0)
    assert best_linear_accuracy_2d(x.astype(np.float64), y) == 1.0


# ---------------------------------------------------------------- spirals, blobs


def test_make_spirals_shapes_and_classes():
    x, y = datasets.make_spirals(n_samples=301, n_classes=3, noise=0.1, seed=0)
    assert x.shape == (301, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100, 100]
    # Radius r = |x| is evenly spaced in [0, 1] for each arm, whatever the angle noise.
    np.testing.assert_allclose(np.sort(np.hypot(x[y == 1, 0], x[y == 1, 1])), np.linspace(0, 1, 100), atol=1e-6)


def test_make_blobs_clusters_sit_on_their_centres():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    x, y = datasets.make_blobs(n_samples=400, centers=centers, cluster_std=0.1, seed=0)
    assert x.shape == (400, 3) and x.dtype == np.float32 and y.dtype == np.int64
    for k in range(2):
        np.testing.assert_allclose(x[y == k].mean(axis=0), centers[k], atol=0.05)
    x2, y2 = datasets.make_blobs(n_samples=30, n_features=4, centers=5, seed=1)
    assert x2.shape == (30, 4) and np.bincount(y2).tolist() == [6] * 5


# ---------------------------------------------------------------- linear regression


def test_make_linear_regression_shapes_and_named_fields():
    data = datasets.make_linear_regression(n_samples=50, n_features=3, noise=0.1, seed=0)
    x, y, weights, bias = data
    assert x.shape == (50, 3) and x.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.float32
    assert weights.shape == (3,) and weights.dtype == np.float32
    assert isinstance(bias, float)
    assert data.weights is weights and data.bias == bias


def test_make_linear_regression_without_noise_is_exactly_linear():
    x, y, weights, bias = datasets.make_linear_regression(n_samples=40, n_features=2, noise=0.0, seed=3, bias=2.5)
    assert bias == 2.5
    design = np.hstack([x, np.ones((40, 1), np.float32)]).astype(np.float64)
    fitted = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(fitted, [*weights, bias], atol=1e-5)


def test_make_linear_regression_noise_has_the_requested_scale():
    x, y, weights, bias = datasets.make_linear_regression(n_samples=20000, n_features=2, noise=0.5, seed=0)
    residual = y - (x @ weights + bias)
    # Standard error of a standard deviation estimate from 20000 samples is ~0.0025.
    assert abs(residual.std() - 0.5) < 0.02
    assert abs(residual.mean()) < 0.02


# ---------------------------------------------------------------- random labels


def test_make_random_labels_shapes_dtypes_and_range():
    x, y = datasets.make_random_labels(n_samples=500, n_features=8, n_classes=4, seed=0)
    assert x.shape == (500, 8) and x.dtype == np.float32
    assert y.shape == (500,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() <= 3
    # Uniform labels: each of 4 classes about 125 times.
    assert np.all(np.abs(np.bincount(y, minlength=4) - 125) < 40)
    x2, y2 = datasets.make_random_labels(n_samples=500, n_features=8, n_classes=4, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_random_labels_carry_no_information_for_held_out_data():
    x, y = datasets.make_random_labels(n_samples=4000, n_features=20, n_classes=10, seed=0)
    _, test_accuracy = linear_classifier_accuracy(x[:2000], y[:2000], x[2000:], y[2000:], 10)
    # Chance is 1/10; the standard error over 2000 test samples is ~0.007.
    assert abs(test_accuracy - 0.1) < 0.04


def test_the_held_out_check_detects_labels_that_do_carry_information():
    # Control for the test above: labels that are a function of x are learnable by
    # the same linear check, so a near-chance score there is evidence, not a bug.
    x, _ = datasets.make_random_labels(n_samples=4000, n_features=20, n_classes=10, seed=0)
    y = np.argmax(x[:, :10], axis=1)
    _, test_accuracy = linear_classifier_accuracy(x[:2000], y[:2000], x[2000:], y[2000:], 10)
    assert test_accuracy > 0.3


def test_random_labels_can_be_memorised_but_not_generalised():
    # With more parameters than samples a linear model interpolates the training
    # labels (100% training accuracy) and is still at chance on new samples.
    x, y = datasets.make_random_labels(n_samples=2100, n_features=150, n_classes=2, seed=1)
    train, test = linear_classifier_accuracy(x[:100], y[:100], x[100:], y[100:], 2)
    assert train == 1.0
    assert abs(test - 0.5) < 0.05


# ---------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: datasets.make_moons(n_samples=1), "n_samples"),
        (lambda: datasets.make_moons(noise=-0.1), "noise"),
        (lambda: datasets.make_spirals(n_classes=0), "n_classes"),
        (lambda: datasets.make_linear_regression(n_features=2.5), "n_features"),
        (lambda: datasets.make_random_labels(n_classes=1), "n_classes"),
        (lambda: datasets.make_blobs(centers=np.zeros(3)), "centers"),
    ],
)
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        call()
