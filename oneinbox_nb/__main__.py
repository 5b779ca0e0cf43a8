"""``python -m oneinbox_nb`` runs the command line."""

from .cli import main

raise SystemExit(main())
