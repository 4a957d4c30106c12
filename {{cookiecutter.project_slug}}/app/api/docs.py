"""The API docs, served by the service itself: Swagger UI at /docs, ReDoc at /redoc, their assets, nothing else.

FastAPI's own pages load Swagger UI and ReDoc from public CDNs and fonts from Google: blank pages on a network
without a route out, and no way to hold them to a Content-Security-Policy. Here every script, style sheet and
image comes from ``app/api/docs_assets`` (pinned upstream releases with their licences; its README says how to
update them), and each page's policy allows exactly those files and its own inline script or style, by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

ASSETS = Path(__file__).resolve().parent / "docs_assets"
ASSETS_URL = "/docs/assets"
SWAGGER_UI_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
# The <style> elements ReDoc's bundle (2.5.4) adds: empty ones that styled-components fills through CSSOM, and
# perfect-scrollbar's style sheet. Pinned with the bundle: the browser tier fails if an update changes them.
REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)


def page_policy(page: str, extra_styles: tuple[str, ...] = ()) -> str:
    """The CSP of a docs page: its own origin's assets, and its inline scripts and styles by their SHA-256."""
    hashes: dict[str, list[str]] = {"script": [], "style": list(extra_styles)}
    for kind, body in _INLINE.findall(page):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self'", *hashes["script"]]),
            # Swagger UI and ReDoc set element styles from script (CSSOM), which CSP does not govern.
            " ".join(["style-src 'self'", *hashes["style"]]),
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",  # the schema, and Swagger UI's "Try it out"
            "worker-src blob:",  # ReDoc's search index runs in a worker it builds from its own bundle
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def html_page(response: HTMLResponse, extra_styles: tuple[str, ...] = ()) -> tuple[str, str]:
    """One of FastAPI's docs pages as its HTML and its policy."""
    page = bytes(response.body).decode()
    return page, page_policy(page, extra_styles)


@cache
def swagger_ui_page(title: str, root_path: str) -> tuple[str, str]:
    return html_page(
        get_swagger_ui_html(
            openapi_url=f"{root_path}/openapi.json",
            title=f"{html.escape(title)} - Swagger UI",
            swagger_js_url=f"{root_path}{ASSETS_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root_path}{ASSETS_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root_path}{ASSETS_URL}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=f"{root_path}{OAUTH2_REDIRECT_URL}",
        )
    )


@cache
def redoc_page(title: str, root_path: str) -> tuple[str, str]:
    return html_page(
        get_redoc_html(
            openapi_url=f"{root_path}/openapi.json",
            title=f"{html.escape(title)} - ReDoc",
            redoc_js_url=f"{root_path}{ASSETS_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root_path}{ASSETS_URL}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        ),
        REDOC_STYLE_HASHES,
    )


@cache
def oauth2_redirect_page() -> tuple[str, str]:
    return html_page(get_swagger_ui_oauth2_redirect_html())


def respond(page: tuple[str, str]) -> HTMLResponse:
    html_text, policy = page
    return HTMLResponse(html_text, headers={"Content-Security-Policy": policy})


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def add_docs(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect, /redoc and the assets under /docs/assets (FastAPI's own pages are off)."""

    async def swagger_ui(request: Request) -> HTMLResponse:
        return respond(swagger_ui_page(app.title, _root_path(request)))

    async def redoc(request: Request) -> HTMLResponse:
        return respond(redoc_page(app.title, _root_path(request)))

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return respond(oauth2_redirect_page())

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    app.add_route(SWAGGER_UI_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
