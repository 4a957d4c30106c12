"""The API docs load everything from the service itself, under a policy that names exactly what they run."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from app.api.docs import ASSETS, ASSETS_URL

DOCS_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
ASSET_REFERENCE = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
FOREIGN_URL = re.compile(r"https?://[^\s\"'<>]*", re.IGNORECASE)


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    directives = (part.split() for part in response.headers["content-security-policy"].split(";"))
    return {words[0]: words[1:] for words in directives if words}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("path", DOCS_PAGES)
async def test_docs_pages_name_no_other_origin(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert FOREIGN_URL.findall(response.text) == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_every_asset_a_docs_page_names_is_served_by_the_service(client: httpx.AsyncClient, path: str) -> None:
    references = ASSET_REFERENCE.findall((await client.get(path)).text)
    assert references, "the page names no asset"
    for reference in references:
        assert reference.startswith(f"{ASSETS_URL}/"), reference
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content == (ASSETS / reference.removeprefix(f"{ASSETS_URL}/")).read_bytes()


@pytest.mark.parametrize("path", DOCS_PAGES)
async def test_a_docs_page_policy_allows_its_inline_code_by_hash_only(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    policy = policy_of(response)
    for kind in ("script", "style"):
        for body in re.findall(rf"<{kind}>(.*?)</{kind}>", response.text, re.DOTALL):
            assert sha256_source(body) in policy[f"{kind}-src"]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not [source for sources in policy.values() for source in sources if "unsafe" in source or "*" in source]
    assert not [source for sources in policy.values() for source in sources if FOREIGN_URL.match(source)]


def test_no_docs_asset_loads_from_another_origin() -> None:
    """The vendored bundles, as patched (app/api/docs_assets/README.md): ReDoc's logo came from its CDN."""
    bundles = [path for path in ASSETS.rglob("*") if path.suffix in {".js", ".css"}]
    assert bundles
    for bundle in bundles:
        assert "cdn.redoc.ly" not in bundle.read_text(encoding="utf-8"), bundle


def test_each_vendored_asset_keeps_its_licence() -> None:
    for folder in ("swagger-ui", "redoc"):
        assert (ASSETS / folder / "LICENSE").is_file()
        for bundle in (ASSETS / folder).glob("*.js"):
            assert Path(f"{bundle}.LICENSE.txt").is_file(), bundle


async def test_the_schema_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"]
