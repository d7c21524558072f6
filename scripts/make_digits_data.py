"""Rebuild ``gdlib/data/digits.npz`` from scikit-learn's copy of the UCI digits.

gdlib ships the 1797 digits itself so that ``gdlib.datasets.load_digits`` needs
NumPy alone (learners and graders install nothing else). The file holds two
uint8 arrays: ``pixels`` (1797, 64), counts 0..16, and ``target`` (1797,),
in scikit-learn's order, so splits agree with ``train_test_split``.

Run once, with scikit-learn installed: ``python -m scripts.make_digits_data``.
See ``gdlib/data/DIGITS-LICENSE.md`` for the data's origin and licence.
"""
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "gdlib" / "data" / "digits.npz"


def main() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)
    target = digits.target.astype(np.uint8)
    assert np.array_equal(pixels, digits.data) and np.array_equal(target, digits.target)
    np.savez_compressed(OUT, pixels=pixels, target=target)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
