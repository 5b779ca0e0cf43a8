"""``python -m oneinbox_nb`` runs the command line."""

from .cli import main

if __name__ == "__main__":  # spawned worker processes re-import this module: do not rerun the CLI
    raise SystemExit(main())
