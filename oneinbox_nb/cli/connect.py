"""Reaching the API from the command line: the one-try pre-flight request that turns a wrong URL
or key into one clear error, and the client for ``--sample`` or ``--base-url``/the environment.

The client is imported inside the functions: building the parser (``--help``) loads no httpx.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["preflight", "sample_or_client"]


def preflight(base_url: str | None, timeout: float | None = None) -> None:
    """One request, without retries, that turns a wrong URL or key into one clear error.

    Raises
    ------
    oneinbox_nb.OneInboxError
        The client's error for the first page of ``GET /v1/calls`` (missing or rejected key,
        unreachable host, 404 for a wrong root); :func:`oneinbox_nb.cli.errors.message` words it.
    """
    from ..client import OneInboxClient, RetryPolicy

    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=1)}
    if timeout is not None:
        options["timeout"] = timeout
    with OneInboxClient(base_url=base_url, **options) as client:
        next(iter(client.iter_calls(page_size=1)), None)


def sample_or_client(command: str, args, **options: Any):
    """``(client, sample API or None)`` for --sample or the API of --base-url / the environment.

    The caller closes the client and stops the sample API (``api.stop()``) when done.

    Raises
    ------
    oneinbox_nb.ConfigurationError
        ``--sample`` together with ``--base-url``.
    """
    from ..client import OneInboxClient

    if not args.sample:
        return OneInboxClient(base_url=args.base_url, **options), None
    if args.base_url is not None:
        raise ConfigurationError(
            f"--sample asks for the embedded sample API; drop --base-url (or drop --sample to "
            f"`oneinbox-nb {command}` from that API)"
        )
    from .. import sample

    api = sample.serve(("load_test", "production"))
    try:
        return OneInboxClient(api.api_key, api.base_url, **options), api
    except BaseException:
        api.stop()
        raise
