"""Serve notebooks as live dashboards with Voila, on 127.0.0.1 only.

:func:`launch` is a context manager for tests and scripts: it starts Voila as a subprocess on a free
loopback port, waits until it answers HTTP, yields a :class:`Dashboard` with its ``.url``, and stops
it and every process it started (its kernels) on exit. :func:`serve` is the foreground variant
behind ``oneinbox-nb dashboard``: it prints the URL once and blocks until Ctrl-C or SIGTERM.

- Data: each page load gets its own kernel, which inherits this process's environment, so the
  notebooks follow the source rule (:func:`oneinbox_nb.source.choose_source`): the OneInbox API
  when ``ONEINBOX_API_KEY`` is set, the embedded sample otherwise or with ``sample=True``. The key
  is never written anywhere. A page's URL query sets the notebook's data parameters
  (:func:`url_parameters`).
- Access: like Jupyter, the server requires a random token, given in the printed URL
  (``?token=...``) and passed to Voila in a private config file, never on its command line.
- Kernels: a page's kernel is shut down when the page is closed (Voila's ``beforeunload`` call),
  and any kernel idle for ``kernel_idle_timeout`` seconds (default 15 minutes) is culled, page open
  or not (jupyter_server's culler: ``MappingKernelManager.cull_idle_timeout``, ``cull_interval``,
  ``cull_connected``), so a shared dashboard does not grow by a kernel per page view.
- Offline: pages use the ``oneinbox`` Voila template (``_jupyter/voila/templates/oneinbox``), Voila's
  lab template without the Font Awesome stylesheets it would ask a CDN for; progress bars are off
  in the kernels (``TQDM_DISABLE``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
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
from typing import Any
from urllib.parse import quote

from .exceptions import ConfigurationError, OneInboxError

__all__ = ["Dashboard", "launch", "serve", "url_parameters"]

HOST = "127.0.0.1"
_INSTALL_HINT = (
    "install the dashboard extra: pip install 'oneinbox_nb[dashboard]' (or make dashboard)"
)
TEMPLATE = "oneinbox"
_JUPYTER_DATA = Path(__file__).resolve().parent / "_jupyter"


@dataclass(frozen=True)
class Dashboard:
    """A running Voila server.

    Attributes
    ----------
    url : str
        The page to open: the notebook list, or the chosen notebook's rendered page, with
        ``?token=...``.
    base_url : str
        ``http://127.0.0.1:<port>/``.
    token : str
        What the server requires (``?token=`` once, then a cookie); never logged.
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
    token: str = ""

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"Dashboard(base_url={self.base_url!r}, pid={self.pid}, root={str(self.root)!r})"


# Query names Voila and the token login use themselves; never notebook parameters.
_SERVER_QUERY_NAMES = frozenset({"token", "voila-template", "voila-theme"})


def url_parameters(**defaults: Any) -> tuple[Any, ...]:
    """The notebook parameters a dashboard page's URL sets, else their defaults, in order.

    Voila hands each page's kernel the page's query string (``QUERY_STRING``), so
    ``.../04_postmortem.ipynb?call_ids=<id>,<id>&run_id=lt-42`` opens a postmortem of those calls.
    Values are read as on the command line (:func:`oneinbox_nb.config.parse_value`: JSON when it
    parses, else text); a name given twice gives a list. Outside Voila (a report, JupyterLab)
    ``QUERY_STRING`` is unset and the defaults come back unchanged.

    Parameters
    ----------
    **defaults
        The parameters a URL may set, with their current values, e.g. ``call_id=call_id``. Only
        these names are accepted: a page's URL can never choose the API, its key or the source.

    Returns
    -------
    tuple
        The values, in the order of ``defaults``.

    Raises
    ------
    ConfigurationError
        The URL names a parameter not in ``defaults``; the message lists the valid ones.

    Examples
    --------
    >>> call_id, run_id = url_parameters(call_id=None, run_id=None)  # doctest: +SKIP
    """
    from urllib.parse import parse_qsl

    from .config import parse_value

    values = dict(defaults)
    given: dict[str, list[Any]] = {}
    for name, text in parse_qsl(os.environ.get("QUERY_STRING", ""), keep_blank_values=True):
        if name in _SERVER_QUERY_NAMES:
            continue
        if name not in defaults:
            valid = ", ".join(f"{k} (now {v!r})" for k, v in defaults.items())
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise ConfigurationError(
                f"this page's URL sets {shown!r}, which this notebook does not take from a URL; "
                f"it takes: {valid or 'nothing'}"
            )
        given.setdefault(name, []).append(parse_value(text))
    for name, parsed in given.items():
        values[name] = parsed[0] if len(parsed) == 1 else parsed
    return tuple(values.values())


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


#: Seconds a dashboard kernel may sit idle before it is culled (its page then needs a reload).
KERNEL_IDLE_TIMEOUT = 900.0


def _culling(idle_timeout: float) -> list[str]:
    """jupyter_server's culler flags: idle kernels end, connected (an open page) or not."""
    interval = max(1, min(60, int(idle_timeout // 2)))
    return [
        f"--MappingKernelManager.cull_idle_timeout={max(1, int(idle_timeout))}",
        f"--MappingKernelManager.cull_interval={interval}",
        "--MappingKernelManager.cull_connected=True",
        "--MappingKernelManager.cull_busy=False",
    ]


def _voila_command(
    target: Path, port: int, config_dir: Path, idle_timeout: float = KERNEL_IDLE_TIMEOUT
) -> list[str]:
    from .kernel_client import DOTTED_NAME

    command = [
        sys.executable,
        "-m",
        "voila",
        os.fspath(target),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={port}",
        f"--template={TEMPLATE}",
        # the token lives in this private directory's voila.json, not on the command line
        f"--Voila.config_file_paths={os.fspath(config_dir)}",
        # the kernel client that never sleeps through a reply (jupyter/nbclient#312)
        f"--KernelManager.client_class={DOTTED_NAME}",
        *_culling(idle_timeout),
    ]
    if importlib.util.find_spec("jupytext") is not None:
        # jupytext's lab extension breaks Voila's page when it is installed beside it
        command.append("--VoilaConfiguration.extension_denylist=jupyterlab-jupytext")
    return command


def _voila_environment(sample: bool) -> dict[str, str]:
    env = dict(os.environ)
    if sample:  # no key and no base URL: the notebooks' source rule picks the embedded sample
        env.pop("ONEINBOX_API_KEY", None)
        env.pop("ONEINBOX_BASE_URL", None)
    paths = [os.fspath(_JUPYTER_DATA), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    env["TQDM_DISABLE"] = "1"  # no progress bars in the page
    # From a source checkout (not installed), let the kernels import this same oneinbox_nb.
    package_root = Path(__file__).resolve().parents[1]
    if package_root.name not in ("site-packages", "dist-packages"):
        pythonpath = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(package_root) not in pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([str(package_root), *pythonpath])
    return env


def _descendants(pid: int) -> list[Any]:
    """Every process started by ``pid`` (Voila's kernels), as psutil processes."""
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing, or the process already gone
        return []


def _stop(process: subprocess.Popen[bytes], port: int, *, grace: float = 10.0) -> None:
    """SIGTERM Voila, wait up to ``grace`` seconds, then SIGKILL; then end any kernel it left and
    wait for the port to close."""
    children = _descendants(process.pid)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # Voila leads its own process group
            process.kill()
            process.wait(timeout=grace)
    # Voila's kernels run in sessions of their own; Voila shuts them down, and anything left is ended.
    if children:
        import psutil

        alive = [child for child in children if child.is_running()]
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.terminate()
        _, alive = psutil.wait_procs(alive, timeout=grace)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=grace)
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
    sample: bool = False,
    kernel_idle_timeout: float = KERNEL_IDLE_TIMEOUT,
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
    sample : bool
        Serve the embedded sample API's calls even when ``ONEINBOX_API_KEY`` is set (the kernels
        get neither the key nor ``ONEINBOX_BASE_URL``).
    kernel_idle_timeout : float
        Seconds (at least 1) after which an idle page kernel is shut down, even with its page open.

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
    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="oneinbox-voila-") as scratch:
        log_path = Path(scratch) / "voila.log"
        command = _voila_command(
            target, port, _token_config(Path(scratch), token), kernel_idle_timeout
        )
        process = _start_voila(command, target, log_path, sample)
        try:
            _wait_until_serving(process, base_url, target, log_path, startup_timeout)
            yield Dashboard(
                url=f"{base_url}{page}?token={token}",
                base_url=base_url,
                port=port,
                pid=process.pid,
                root=target,
                token=token,
            )
        finally:
            _stop(process, port)


def _start_voila(
    command: list[str], target: Path, log_path: Path, sample: bool
) -> subprocess.Popen[bytes]:
    """Voila in a session of its own, its output in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=target if target.is_dir() else target.parent,
            env=_voila_environment(sample),
            start_new_session=True,  # Ctrl-C in the terminal reaches us, not Voila; we stop it
        )


def _token_config(scratch: Path, token: str) -> Path:
    """A private config directory (mode 700) whose ``voila.json`` (mode 600) holds the token."""
    config_dir = scratch / "config"
    config_dir.mkdir(mode=0o700)
    config_file = config_dir / "voila.json"
    config_file.touch(mode=0o600)
    config_file.write_text(json.dumps({"Voila": {"token": token}}))
    return config_dir


def _wait_until_serving(
    process: subprocess.Popen[bytes],
    base_url: str,
    target: Path,
    log_path: Path,
    startup_timeout: float,
) -> None:
    """Poll ``base_url`` until Voila answers; an OneInboxError ending with its log's tail when it
    exits first or stays silent for ``startup_timeout`` seconds."""
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


def serve(
    notebook_dir: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    open_notebook: str | None = None,
    sample: bool = False,
) -> None:
    """Run Voila in the foreground: print the URL (with its token) once, block until Ctrl-C or
    SIGTERM, then stop Voila and every kernel it started.

    Parameters are those of :func:`launch`.
    """
    from .source import describe_source

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.SIG_IGN:
        # started with Ctrl-C ignored (`&` in a script does that): "Ctrl-C to stop" must still hold
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        described = describe_source(source="sample" if sample else "auto")
        with launch(notebook_dir, port=port, open_notebook=open_notebook, sample=sample) as dash:
            print(f"Data source: {described}", flush=True)
            print(f"Dashboards on {dash.url} (Ctrl-C to stop)", flush=True)
            try:
                _wait_for_interrupt(dash)
            except KeyboardInterrupt:
                print("stopping Voila...", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _wait_for_interrupt(dashboard: Dashboard) -> None:
    """Block until Ctrl-C (KeyboardInterrupt); raise if Voila dies meanwhile."""
    while True:
        time.sleep(1.0)
        if not _port_open(dashboard.port):
            raise OneInboxError(f"Voila (pid {dashboard.pid}) stopped serving {dashboard.base_url}")
