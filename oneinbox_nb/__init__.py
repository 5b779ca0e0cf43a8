"""oneinbox_nb: OneInbox voice-agent calls in Jupyter, as tidy pandas frames."""

from __future__ import annotations

from .exceptions import OneInboxError

__version__ = "0.1.0"

__all__ = ["OneInboxError", "__version__"]
