"""Build the website into _build/html (placeholder until the book issue lands)."""
import subprocess
import sys

if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "jupyter_book", "build", ".", "-n", "-W", "--keep-going"]))
