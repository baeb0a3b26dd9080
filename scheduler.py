"""The scheduler daemon's entry point: ``python scheduler.py [options]`` runs ``dagflow scheduler``."""

import sys

from dagflow.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "scheduler", *sys.argv[1:]]
    main()
