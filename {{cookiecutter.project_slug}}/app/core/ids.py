"""Random ids for requests and traces."""

from __future__ import annotations

from random import getrandbits


def random_hex_id(bits: int = 128) -> str:
    """``bits`` random bits as lowercase hex, never all zeros (32 digits for 128 bits: the form of ``uuid4().hex``).

    From :mod:`random`, not :func:`os.urandom`: an id that ties log lines and traces together must be unique, not
    secret, and a system call per id costs more than the rest of its work. OpenTelemetry's SDK makes its trace and
    span ids the same way (``RandomIdGenerator``). Python reseeds :mod:`random` in a forked worker.
    """
    return f"{getrandbits(bits) or 1:0{bits // 4}x}"
