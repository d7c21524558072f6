import sys

# nbformat imports jsonschema, which imports rfc3987_syntax when it is installed and compiles
# about 40 grammars on import (~1.7 s of every grading process's start).  It only serves the
# "iri" string format, which nbformat's notebook schemas never use (nbformat validates without a
# format checker), so this process goes without it.
sys.modules.setdefault("rfc3987_syntax", None)

from .cli import main  # noqa: E402

raise SystemExit(main())
