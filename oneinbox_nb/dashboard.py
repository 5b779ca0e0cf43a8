"""Serve notebooks as live dashboards with Voila, on 127.0.0.1 only.

:func:`launch` is a context manager for tests and scripts: it starts Voila as a subprocess on a free
loopback port, waits until it answers HTTP, yields a :class:`Dashboard` with its ``.url``, and stops
it (and waits for the port to close) on exit. :func:`serve` is the foreground variant behind
``oneinbox-nb dashboard``: it prints the URL and blocks until Ctrl-C.

Widgets are live here, unlike in the static HTML reports: each page load gets its own kernel, which
inherits this process's environment (so ``ONEINBOX_API_KEY`` reaches the notebooks without being
written anywhere).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .exceptions import ConfigurationError, OneInboxError

__all__ = ["Dashboard", "launch", "serve"]

HOST = "127.0.0.1"
_INSTALL_HINT = "install the dashboard extra: pip install 'oneinbox_nb[dashboard]'"


@dataclass(frozen=True)
class Dashboard:
    """A running Voila server.

    Attributes
    ----------
    url : str
        The page to open: the notebook list, or the chosen notebook's rendered page.
    base_url : str
        ``http://127.0.0.1:<port>/``.
    port : int
    pid : int
        Voila's process id.
    root : pathlib.Path
        The directory (or single notebook) being served.
    """

    url: str
    base_url: str
    port: int
    pid: int
    root: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _answers(url: str) -> bool:
    # No proxies: a loopback address must never be sent to an HTTP proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _resolve_target(
    notebook_dir: str | os.PathLike[str] | None, open_notebook: str | None
) -> tuple[Path, str]:
    """The path Voila serves, and the URL path of the page to open."""
    from .report import notebooks_dir

    root = Path(notebook_dir).expanduser() if notebook_dir is not None else notebooks_dir()
    if not root.exists():
        raise ConfigurationError(f"notebook directory {os.fspath(root)!r} does not exist")
    if root.is_file():
        if root.suffix != ".ipynb":
            raise ConfigurationError(f"{os.fspath(root)!r} is not a notebook (.ipynb)")
        if open_notebook is not None:
            raise ConfigurationError("open_notebook only applies when serving a directory")
        return root.resolve(), ""
    root = root.resolve()
    if open_notebook is None:
        return root, ""
    name = open_notebook if open_notebook.endswith(".ipynb") else f"{open_notebook}.ipynb"
    page = (root / name).resolve()
    if not page.is_file() or root not in page.parents:
        available = sorted(p.stem for p in root.glob("*.ipynb"))
        raise ConfigurationError(
            f"no notebook {open_notebook!r} in {root}; available: {', '.join(available) or 'none'}"
        )
    return root, "voila/render/" + quote(page.relative_to(root).as_posix())


def _voila_command(target: Path, port: int) -> list[str]:
    from .kernel_client import DOTTED_NAME

    command = [
        sys.executable,
        "-m",
        "voila",
        os.fspath(target),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={port}",
        # the kernel client that never sleeps through a reply (jupyter/nbclient#312)
        f"--KernelManager.client_class={DOTTED_NAME}",
    ]
    if importlib.util.find_spec("jupytext") is not None:
        # jupytext's lab extension breaks Voila's page when it is installed beside it
        command.append("--VoilaConfiguration.extension_denylist=jupyterlab-jupytext")
    return command


def _stop(process: subprocess.Popen[bytes], port: int, *, grace: float = 10.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; then wait for the port to close."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # Voila leads its own process group
            process.kill()
            process.wait(timeout=grace)
    # Voila's kernels run in sessions of their own and exit with it (ipykernel polls JPY_PARENT_PID).
    deadline = time.monotonic() + grace
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)


@contextlib.contextmanager
def launch(
    notebook_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    open_notebook: str | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[Dashboard]:
    """Run Voila on 127.0.0.1 for the duration of a ``with`` block.

    Parameters
    ----------
    notebook_dir : str or path-like, optional
        A directory of notebooks (Voila lists them) or one ``.ipynb`` file. Default: the packaged
        notebooks (:func:`oneinbox_nb.report.notebooks_dir`).
    port : int
        The port; 0 picks a free one.
    open_notebook : str, optional
        A notebook in ``notebook_dir`` (name with or without ``.ipynb``); ``.url`` then points at its
        rendered page instead of the list.
    startup_timeout : float
        Seconds to wait for Voila to answer HTTP.

    Yields
    ------
    Dashboard
        With ``.url``, ``.port`` and ``.pid``.

    Raises
    ------
    ConfigurationError
        Voila is not installed, or the directory or notebook does not exist.
    OneInboxError
        Voila exited or did not answer in time; the message ends with the tail of its log.

    Examples
    --------
    >>> with launch("notebooks", open_notebook="05_turn_explorer") as dash:  # doctest: +SKIP
    ...     print(dash.url)
    """
    if importlib.util.find_spec("voila") is None:
        raise ConfigurationError(f"dashboards need Voila: {_INSTALL_HINT}")
    target, page = _resolve_target(notebook_dir, open_notebook)
    port = port or _free_port()
    if _port_open(port):
        raise ConfigurationError(
            f"port {port} on {HOST} is already in use; pass another port (or 0)"
        )
    base_url = f"http://{HOST}:{port}/"

    with tempfile.TemporaryDirectory(prefix="oneinbox-voila-") as scratch:
        log_path = Path(scratch) / "voila.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                _voila_command(target, port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=target if target.is_dir() else target.parent,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not Voila; we stop it
            )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(base_url):
                if process.poll() is not None:
                    raise OneInboxError(
                        f"Voila exited with status {process.returncode} before serving {target}. "
                        f"Its log ends with:\n{_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise OneInboxError(
                        f"Voila did not answer on {base_url} within {startup_timeout:.0f} s. "
                        f"Its log ends with:\n{_tail(log_path)}"
                    )
                time.sleep(0.2)
            yield Dashboard(
                url=base_url + page, base_url=base_url, port=port, pid=process.pid, root=target
            )
        finally:
            _stop(process, port)


def serve(
    notebook_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    open_notebook: str | None = None,
) -> None:
    """Run Voila in the foreground: print the URL, block until Ctrl-C, then stop it.

    Parameters are those of :func:`launch`.
    """
    with launch(notebook_dir, port=port, open_notebook=open_notebook) as dashboard:
        print(f"Dashboards on {dashboard.url} (Ctrl-C to stop)", flush=True)
        try:
            _wait_for_interrupt(dashboard)
        except KeyboardInterrupt:
            print("stopping Voila...", file=sys.stderr, flush=True)


def _wait_for_interrupt(dashboard: Dashboard) -> None:
    """Block until Ctrl-C (KeyboardInterrupt); raise if Voila dies meanwhile."""
    while True:
        time.sleep(1.0)
        if not _port_open(dashboard.port):
            raise OneInboxError(f"Voila (pid {dashboard.pid}) stopped serving {dashboard.base_url}")
