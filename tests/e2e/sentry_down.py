"""Stand-ins for a Sentry that is down: `closed_port` refuses every connection, `BlackHole` never answers."""

# Runs only our own pinned tools, and every URL is http://127.0.0.1:

from __future__ import annotations

import selectors
import socket
import threading
import time

from .envelopes import dsn_for_port

_reserved_ports: list[socket.socket] = []


def closed_port() -> int:
    """A 127.0.0.1 port on which every connection is refused, for as long as this test process lives.

    This process keeps the port bound without listening, so nothing else can start listening on it.
    """
    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserved.bind(("127.0.0.1", 0))
    _reserved_ports.append(reserved)
    return int(reserved.getsockname()[1])


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections, reads what is sent, and never answers.

    Use it as a context manager. Its connections are closed on exit, or after `lifetime` seconds at the
    latest, so a forgotten black hole cannot outlive the test run.
    """

    def __init__(self, lifetime: float = 120.0) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._lifetime = lifetime
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connections = 0
        self._bytes_received = 0
        self._thread = threading.Thread(target=self._serve, name="black-hole", daemon=True)
        self.port = int(self._listener.getsockname()[1])

    @property
    def dsn(self) -> str:
        """A DSN whose SDK transport will connect here and wait for an answer that never comes."""
        return dsn_for_port(self.port)

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        with self._lock:
            return self._connections

    @property
    def bytes_received(self) -> int:
        """How many bytes were sent to it so far, over all connections."""
        with self._lock:
            return self._bytes_received

    def _serve(self) -> None:
        deadline = time.monotonic() + self._lifetime
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        accepted: list[socket.socket] = []
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.1):
                    if key.fileobj is self._listener:
                        self._accept(selector, accepted)
                    else:
                        self._drain(selector, key.fileobj)  # type: ignore[arg-type]
        finally:
            selector.close()
            for connection in accepted:
                connection.close()
            self._listener.close()

    def _accept(self, selector: selectors.BaseSelector, accepted: list[socket.socket]) -> None:
        try:
            connection, _ = self._listener.accept()
        except BlockingIOError:
            return
        connection.setblocking(False)
        accepted.append(connection)
        selector.register(connection, selectors.EVENT_READ)
        with self._lock:
            self._connections += 1

    def _drain(self, selector: selectors.BaseSelector, connection: socket.socket) -> None:
        try:
            data = connection.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            with self._lock:
                self._bytes_received += len(data)
        else:  # the client gave up
            selector.unregister(connection)
            connection.close()

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
