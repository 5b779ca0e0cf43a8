"""Tests of oneinbox_nb.widgets, one module per explorer (a package, so its module names stay unique)."""
