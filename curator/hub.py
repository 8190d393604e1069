"""Can the Hugging Face hub be reached right now? Decided in under a second.

CLIP and diffusion weights download on first use when it can; when it cannot, loading fails at
once with a message instead of ``huggingface_hub`` retrying an unreachable hub for about a minute.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 0.8
DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def hub_offline_by_choice() -> bool:
    """Whether the user switched the hub off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _probe_address() -> tuple[str, int]:
    """Host and port a download would connect to first: the HTTPS proxy, else the endpoint."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlsplit(proxy or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    default_port = 443 if url.scheme == "https" else 80
    return url.hostname or "huggingface.co", url.port or default_port


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (or the proxy) opens within ``timeout`` seconds.

    Runs in a daemon thread because name resolution ignores socket timeouts; a probe still
    resolving when the time is up counts as unreachable.
    """
    if hub_offline_by_choice():
        return False
    host, port = _probe_address()
    result: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    probe = threading.Thread(target=connect, daemon=True, name="hub-probe")
    probe.start()
    probe.join(timeout)
    return bool(result and result[0])
