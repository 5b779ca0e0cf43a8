"""Running a notebook: nbclient in a kernel, a failing cell mapped to NotebookExecutionError.

:func:`_execute` runs a (parameterized) notebook in place, cell by cell, in a scratch directory with
the inline matplotlib backend; a cell that raises, times out or kills the kernel becomes one
:class:`~oneinbox_nb.exceptions.NotebookExecutionError` whose texts are scrubbed of secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import scrub
from ..exceptions import ConfigurationError, NotebookExecutionError
from .notebooks import _INSTALL_HINT, INJECTED_TAG, _environment_key, _source_text, _tags

if TYPE_CHECKING:
    from nbformat import NotebookNode

INLINE_MPL_BACKEND = "module://matplotlib_inline.backend_inline"


def _kernel_config():
    """nbclient config: a kernel client that never sleeps through a reply
    (:mod:`oneinbox_nb.kernel_client`), and CurveZMQ keys when possible (silences the plain-TCP
    warning)."""
    from traitlets.config import Config

    from ..kernel_client import PatientKernelClient

    config = Config()
    config.KernelManager.client_factory = PatientKernelClient
    try:
        import zmq
        from jupyter_client.manager import KernelManager

        if zmq.has("curve") and "transport_encryption" in KernelManager.class_trait_names():
            config.KernelManager.transport_encryption = "auto"
    except ImportError:  # pragma: no cover - jupyter_client always brings pyzmq
        pass
    return config


def _kernel_env() -> dict[str, str]:
    """The kernel's environment: this process's, with the inline matplotlib backend and, from a
    source checkout (not installed), this same ``oneinbox_nb`` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    # Figures must reach the notebook as PNG outputs, whatever backend the caller's shell selects.
    env["MPLBACKEND"] = INLINE_MPL_BACKEND
    package_root = Path(__file__).resolve().parents[2]
    if package_root.name not in ("site-packages", "dist-packages"):
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(package_root) not in paths:
            env["PYTHONPATH"] = os.pathsep.join([str(package_root), *paths])
    return env


def _failure_maker(nb: NotebookNode, name: str) -> Callable[..., NotebookExecutionError]:
    """A function ``(index, cell, ename, evalue, traceback="")`` building the scrubbed
    :class:`~oneinbox_nb.exceptions.NotebookExecutionError` of a failed cell of ``nb``."""
    env_key = _environment_key()
    injected = next((i for i, c in enumerate(nb.cells) if INJECTED_TAG in _tags(c)), None)

    def clean(text: str) -> str:
        return scrub(text, env_key) if env_key else scrub(text)

    def failure(
        index: int, cell: Any, ename: str, evalue: str, traceback: str = ""
    ) -> NotebookExecutionError:
        # report the cell's position in the notebook file, not counting the injected cell
        if injected is not None and index > injected:
            index -= 1
        return NotebookExecutionError(
            name,
            cell_index=index,
            ename=clean(ename),
            evalue=clean(evalue),
            source=clean(_source_text(cell)),
            traceback=clean(traceback),
        )

    return failure


def _execute(
    nb: NotebookNode, *, name: str, timeout: int | None, kernel_name: str, cwd: str
) -> NotebookNode:
    """Execute ``nb`` in place, cell by cell; a failing cell raises NotebookExecutionError."""
    try:
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as exc:
        raise ConfigurationError(
            f"building a report needs nbclient and ipykernel: {_INSTALL_HINT}"
        ) from exc

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        store_widget_state=True,  # False breaks nbclient 0.11 once an Output widget captures output
        resources={"metadata": {"path": cwd}},
        config=_kernel_config(),
    )
    env = _kernel_env()
    failure = _failure_maker(nb, name)

    try:
        with client.setup_kernel(cwd=cwd, env=env):
            msg_id = client.kc.kernel_info()
            reply = client.wait_for_reply(msg_id)
            if reply and "language_info" in reply.get("content", {}):
                nb.metadata["language_info"] = reply["content"]["language_info"]
            for index, cell in enumerate(nb.cells):
                # A failed run's kernel may still be busy: kill it rather than ask it to shut down.
                client.shutdown_kernel = "immediate"
                # `from None` throughout: nbclient's messages quote the cell's printed output, which
                # may hold secrets; ours are scrubbed.
                try:
                    client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                except CellExecutionError as exc:
                    raise failure(index, cell, exc.ename, exc.evalue, exc.traceback) from None
                except CellTimeoutError:
                    raise failure(
                        index,
                        cell,
                        "CellTimeoutError",
                        f"the cell did not finish within {timeout} s",
                    ) from None
                except DeadKernelError as exc:
                    raise failure(
                        index, cell, "DeadKernelError", str(exc) or "the kernel died"
                    ) from None
                client.shutdown_kernel = "graceful"
            client.set_widgets_metadata()
    except NoSuchKernel as exc:
        from jupyter_client.kernelspec import find_kernel_specs

        raise ConfigurationError(
            f"no Jupyter kernel named {kernel_name!r}; installed kernels: "
            f"{', '.join(sorted(find_kernel_specs())) or 'none'}"
        ) from exc
    return nb
