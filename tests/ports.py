"""A free TCP port on loopback, for the tests that start a real server or broker."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the system picks it); the caller
    binds it at once, before another process may take it."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port
