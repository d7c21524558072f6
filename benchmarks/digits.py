"""How fast does gdlib train a small MLP, next to scikit-learn and PyTorch?

The task (issue 2, section 5): ``Dense(512, relu, input 64) -> Dense(10, softmax)``,
Adam(learning rate 0.001), (sparse categorical) crossentropy, batch size 32, 20 epochs,
on scikit-learn's digits (``train_test_split(test_size=0.2, random_state=0)``,
X / 16, float32). Contenders:

- gdlib: ``Sequential.fit``;
- scikit-learn: ``MLPClassifier`` with the same architecture, ``solver='adam'``,
  ``batch_size=32``, ``max_iter=20``, no early stopping, no L2 penalty;
- PyTorch on the CPU, where it imports: manual batching and ``Adam(fused=True)``.

Each run is a fresh child process (so no run warms another's caches), with BLAS
pinned to one thread before NumPy is imported; the contenders take turns, and each
figure is the median of the repeats. Only ``fit`` is timed.

Usage::

    python benchmarks/digits.py                   # 5 rounds
    python benchmarks/digits.py --repeats 3
    python benchmarks/digits.py --torch-python /path/to/venv/bin/python
"""

import os

# Before NumPy is imported, here and in every child: one BLAS thread. On two cores a
# second thread makes these small matrix products slower and the timings erratic.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_FRAMEWORK_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 0.001
HIDDEN = 512


def load(path):
    import numpy as np

    with np.load(path) as data:
        return data["x_train"], data["y_train"], data["x_test"], data["y_test"]


def run_gdlib(path):
    import numpy as np

    import gdlib
    from gdlib.layers import Dense

    x_train, y_train, x_test, y_test = load(path)
    model = gdlib.Sequential([
        Dense(HIDDEN, activation="relu", input_shape=(64,)),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=gdlib.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    return seconds, accuracy


def run_sklearn(path):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, x_test, y_test = load(path)
    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam", alpha=0.0,
        batch_size=BATCH_SIZE, learning_rate_init=LEARNING_RATE, max_iter=EPOCHS,
        shuffle=True, early_stopping=False, n_iter_no_change=EPOCHS + 1, tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - start
    return seconds, float(model.score(x_test, y_test))


def run_torch(path):
    import torch

    torch.set_num_threads(1)
    x_train, y_train, x_test, y_test = load(path)
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    y_train = torch.from_numpy(y_train).long()
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-7, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax + crossentropy on the logits
    n = len(x_train)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for i in range(0, n, BATCH_SIZE):
            batch = order[i : i + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(dim=1).numpy() == y_test).mean())
    return seconds, accuracy


RUNNERS = {"gdlib": run_gdlib, "scikit-learn": run_sklearn, "pytorch": run_torch}


def child(name, path):
    seconds, accuracy = RUNNERS[name](path)
    print(json.dumps({"seconds": seconds, "accuracy": accuracy}))


def torch_available(python):
    check = subprocess.run([python, "-c", "import torch"], capture_output=True)
    return check.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--torch-python", default=sys.executable,
                        help="interpreter that has torch (default: this one)")
    parser.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        (x / 16).astype(np.float32), y, test_size=0.2, random_state=0
    )
    contenders = {"gdlib": sys.executable, "scikit-learn": sys.executable}
    if torch_available(args.torch_python):
        contenders["pytorch"] = args.torch_python
    else:
        print("PyTorch is not installed here: its leg is skipped.")

    results = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits.npz")
        np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        here = os.path.abspath(__file__)
        for _ in range(args.repeats):
            for name, python in contenders.items():  # interleaved: one run of each per round
                out = subprocess.run([python, here, "--child", name, "--data", path],
                                     capture_output=True, text=True, env=os.environ, check=True)
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))

    samples = len(x_train) * EPOCHS
    rows = []
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        accuracy = statistics.median(r["accuracy"] for r in runs)
        rows.append((name, seconds, samples / seconds, 1000 * seconds / EPOCHS, accuracy))
    gdlib_seconds = rows[0][1]
    print(f"digits: {len(x_train)} training samples, {EPOCHS} epochs, batch {BATCH_SIZE}; "
          f"median of {args.repeats} runs, one BLAS thread")
    print(f"| {'library':<12} | {'fit (s)':>8} | {'samples/s':>10} | {'ms/epoch':>8} | "
          f"{'test accuracy':>13} | {'gdlib speed-up':>14} |")
    print(f"|{'-' * 14}|{'-' * 10}|{'-' * 12}|{'-' * 10}|{'-' * 15}|{'-' * 16}|")
    for name, seconds, rate, per_epoch, accuracy in rows:
        print(f"| {name:<12} | {seconds:8.3f} | {rate:10.0f} | {per_epoch:8.2f} | {accuracy:13.4f} | "
              f"{seconds / gdlib_seconds:13.2f}x |")


if __name__ == "__main__":
    main()
