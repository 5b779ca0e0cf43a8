"""A Jupyter kernel client that never sleeps through a kernel's reply.

Now and then, more often on a busy machine, the asyncio poll waiting for a kernel's reply misses that
it arrived and sleeps until its timeout (the whole cell timeout), then carries on minutes late
(jupyter/nbclient#312). :class:`PatientKernelClient` polls in one-second slices, and every new poll
checks the socket first, so such a stall lasts at most a second. Reports use it through nbclient;
dashboards hand it to Voila's kernels by its dotted name. Importing this module imports
jupyter_client, so only the report and dashboard code paths do.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

__all__ = ["DOTTED_NAME", "PatientKernelClient"]

DOTTED_NAME = "oneinbox_nb.kernel_client.PatientKernelClient"


class SlicedPollChannel(AsyncZMQSocketChannel):
    """A channel whose ``get_msg`` waits in one-second slices instead of one long poll."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=max(left, 0.0))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class PatientKernelClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)
