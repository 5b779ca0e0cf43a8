"""Fixtures of the frames tests."""

from __future__ import annotations

import pytest

from oneinbox_nb.frames import CallFrames, to_frames

from .support import rich_call


@pytest.fixture
def rich() -> CallFrames:
    return to_frames([rich_call()])
