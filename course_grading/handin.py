"""The hand-in rule: the one place that says how a learner names what they hand in.

The notebooks, the website and ``collect`` all use it, so they cannot disagree.
A learner hands in ``<notebook>.ipynb`` (the release notebook's own name) in one
of three ways:

* ``alice_optimizers.ipynb``: one file, the learner's id, ``_``, the notebook's name;
* ``alice/optimizers.ipynb``: a folder named with the learner's id;
* ``alice/04_optimizers/optimizers.ipynb``: the same, keeping the assignment folder.
"""
from __future__ import annotations

import re

#: A learner id: letters, digits, dots, dashes and underscores, starting with a letter or digit.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def hand_in_rule(assignment: str, notebook: str) -> str:
    """The sentence every release notebook of ``assignment`` opens with (Markdown)."""
    return (f"**Hand in** this notebook under its own name, `{notebook}.ipynb`, in a folder named with "
            f"your id (`alice/{notebook}.ipynb`, or `alice/{assignment}/{notebook}.ipynb` if you keep "
            f"the assignment's folder), or as one file named `<your id>_{notebook}.ipynb` "
            f"(`alice_{notebook}.ipynb`). Keep every cell and do not rename the functions.")
