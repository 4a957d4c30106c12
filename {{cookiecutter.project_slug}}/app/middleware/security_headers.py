"""The security headers every response carries, computed once at start-up and appended by the request middleware.

An API answers JSON that no browser should render, frame or reuse: its policy forbids every kind of content
(``default-src 'none'``). A response that brings its own ``Content-Security-Policy`` (the docs pages, which load
their own scripts) keeps it and gets the other headers only.
"""

from __future__ import annotations

CSP_HEADER = b"content-security-policy"
# Nothing may load, run or frame: what a JSON answer needs, and what a browser that renders one should do.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

Headers = list[tuple[bytes, bytes]]

_COMMON: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """The headers to append to a response: all of them, or all but the CSP when the response has its own."""

    def __init__(self, *, hsts_max_age: int = 0) -> None:
        common = list(_COMMON)
        if hsts_max_age > 0:  # only where TLS ends in front of the service: see HSTS_MAX_AGE in the settings
            common.append((b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode()))
        self.without_csp: Headers = common
        self.with_csp: Headers = [*common, (CSP_HEADER, API_CONTENT_SECURITY_POLICY.encode())]

    def for_response(self, headers: Headers) -> Headers:
        for name, _ in headers:
            if name == CSP_HEADER:
                return self.without_csp
        return self.with_csp
