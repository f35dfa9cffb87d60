"""``python -m simdist`` runs the command line."""

from simdist.cli import run

if __name__ == "__main__":
    run()
