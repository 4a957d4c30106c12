"""The one TLS context every outbound client verifies certificates with, built once per process."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle); loading the bundle takes tens of milliseconds."""
    return httpx.create_ssl_context()
