"""Frames the explorer tests share, and the check that no explorer leaves a figure open."""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import pytest

from oneinbox_nb import sample
from oneinbox_nb.frames import to_frames

SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture(scope="session")
def production():
    return to_frames(sample.generate("production", seed=0, n=150))


@pytest.fixture(scope="session")
def load_test():
    return to_frames(sample.generate("load_test", seed=0, n=400))


@pytest.fixture(scope="session")
def one_call():
    return to_frames(sample.generate("call"))


@pytest.fixture(scope="session")
def planted():
    """The rich sample call with HTML in the caller's words and in a tool's arguments."""
    call = copy.deepcopy(sample.generate("call")[0])
    call["id"] = "00000000-0000-4000-8000-00000000beef"
    messages = call["messages"]
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[first_user]["content"] = f"{SCRIPT} & <b>order</b> AC-1"
    tool_call = next(m for m in messages if m["role"] == "tool_call")
    tool_call["arguments"] = '{"order_id": "<img src=x onerror=alert(1)>"}'
    return to_frames([call])


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    yield
    assert plt.get_fignums() == [], "an explorer left a figure open in pyplot"
