# The two commands: `make book` builds the website, `make test` runs every test.
# Both create .venv when it is missing and install the project with its extras.

PYTHON ?= python3
# One BLAS thread: on 2 cores a second thread makes these small products slower and erratic, and the
# notebooks' stored outputs were computed this way (nbval compares them).
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: book test install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,grading,test,cluster]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(PY) -m scripts.build_book

# The linter (ruff, configured in pyproject.toml), then gdlib's unit tests, nbval over every chapter and solution notebook, the grading round trip and,
# where /usr/bin/chromium exists, the browser test of the built site.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest tests chapters solutions --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

clean:
	rm -rf _build
