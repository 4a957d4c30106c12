"""What a browser sees: the docs pages of a baked service, in headless Chromium, with no route out of the machine.

Debian's chromium (installed by tests/support/browser.py when missing), driven by Playwright, opens /docs and
/redoc of a development bake served by a real uvicorn on 127.0.0.1. Every request to another origin is blocked
and counted. Each page must render every operation of the schema with no console error, no failed request, no
request to another origin and no CSP violation, and ReDoc's search must find operations; "Try it out" on one
GET and one POST must get the documented answers; a production bake must serve no docs at all. The counts
asserted are printed past pytest's capture, and a screenshot of each page is saved in the test's output folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service import BakedService, RunningService, ServiceClient, sqlite_url
from tests.support.baking import Baked
from tests.support.browser import Browser, PageWatch, open_browser

pytestmark = pytest.mark.slow

# The project's own commands serve with --no-server-header (its tests check them); so does this tier.
UVICORN_ARGS = ("--no-server-header",)
RENDER_TIMEOUT_MS = 30_000
CLEAN = {"console errors": 0, "failed requests": 0, "foreign requests": 0, "CSP violations": 0}


@pytest.fixture(scope="module")
def service(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> BakedService:
    """The template baked with default answers (a development checkout), dependencies in the cached venv."""
    return BakedService.prepare(bake(tmp_path_factory.mktemp("browser-bake")).project)


def serve(service: BakedService, workdir: Path, environment: str) -> Iterator[RunningService]:
    if environment == "production":  # production refuses SQLite; no page asked for here reaches the database
        database_url = "postgresql+asyncpg://app:app@127.0.0.1:9/app"
    else:
        database_url = sqlite_url(workdir / "service.db")
        service.migrate(database_url)
    settings = {"ENVIRONMENT": environment, "DATABASE_URL": database_url, "ENABLE_DEBUG_ROUTES": "false"}
    with service.run(workdir / "service", uvicorn_args=UVICORN_ARGS, **settings) as running:
        yield running


@pytest.fixture(scope="module")
def development(service: BakedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    yield from serve(service, tmp_path_factory.mktemp("browser-development"), "development")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with open_browser(tmp_path_factory.mktemp("browser") / "profile") as opened:
        yield opened


@pytest.fixture(scope="module")
def operations(development: RunningService) -> list[str]:
    """The operationId of every operation of the served schema."""
    with ServiceClient(development.url) as client:
        schema: dict[str, Any] = client.get("/openapi.json").json()
    return [operation["operationId"] for item in schema["paths"].values() for operation in item.values()]


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print past pytest's capture: the counts show in `make test`'s output, passing or not."""
    with capsys.disabled():
        print(text)


def report(capsys: pytest.CaptureFixture[str], name: str, watch: PageWatch, **counts: int) -> dict[str, int]:
    """The counts asserted, printed with what made them non-zero."""
    found = {**counts, **watch.counts()}
    lines = [f"\nbrowser tier, {name}: {json.dumps(found)}"]
    for what in (watch.console_errors, watch.failed_requests, watch.foreign_requests, watch.csp_violations):
        lines += [f"  {line}" for line in what]
    show(capsys, "\n".join(lines))
    return {key: found[key] for key in CLEAN}


def test_swagger_ui_renders_every_operation_from_the_service_alone(
    browser: Browser,
    development: RunningService,
    operations: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with browser.page(development.url) as (page, watch):
        page.goto(f"{development.url}/docs", wait_until="networkidle")
        page.locator(".opblock").nth(len(operations) - 1).wait_for(timeout=RENDER_TIMEOUT_MS)
        ids = page.eval_on_selector_all(".opblock", "all => all.map(e => e.id)")
        rendered = len([operation for operation in operations if any(i.endswith(f"-{operation}") for i in ids)])
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    assert report(capsys, "/docs", watch, operations=len(operations), rendered=rendered) == CLEAN
    assert rendered == len(operations)
    show(capsys, f"  screenshot: {tmp_path / 'docs.png'}")


def test_redoc_renders_every_operation_from_the_service_alone(
    browser: Browser,
    development: RunningService,
    operations: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sections = "[data-section-id^='operation/']"
    with browser.page(development.url) as (page, watch):
        page.goto(f"{development.url}/redoc", wait_until="networkidle")
        page.locator(sections).first.wait_for(timeout=RENDER_TIMEOUT_MS)
        ids = set(page.eval_on_selector_all(sections, "all => all.map(e => e.dataset.sectionId)"))
        rendered = len(ids & {f"operation/{operation}" for operation in operations})
        # The search index runs in a worker ReDoc builds from a blob: the page's policy must allow it.
        page.fill("input[placeholder='Search...']", "health")
        results = page.locator("[data-role='search:results'] li")
        results.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        found = results.count()
        page.screenshot(path=str(tmp_path / "redoc.png"), full_page=False)
    assert report(capsys, "/redoc", watch, operations=len(operations), rendered=rendered, found=found) == CLEAN
    assert rendered == len(operations)
    assert found > 0
    show(capsys, f"  screenshot: {tmp_path / 'redoc.png'}")


def try_it_out(page: Any, operation_id: str) -> str:
    """Expand an operation in Swagger UI, press "Try it out" and "Execute"; return the status it shows."""
    block = page.locator(f"#operations-{operation_id}")
    block.locator(".opblock-summary").click()
    block.locator(".try-out__btn").click()
    block.locator(".execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=RENDER_TIMEOUT_MS)
    return str(status.inner_text()).strip()


@pytest.mark.parametrize(
    ("operation_id", "documented"),
    [("health-live_health_live_get", "200"), ("posts-create_post_api_v1_posts_post", "201")],
    ids=["GET /health/live", "POST /api/v1/posts"],
)
def test_try_it_out_gets_the_documented_answer(
    browser: Browser,
    development: RunningService,
    operation_id: str,
    documented: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with browser.page(development.url) as (page, watch):
        page.goto(f"{development.url}/docs", wait_until="networkidle")
        status = try_it_out(page, operation_id)
        page.screenshot(path=str(tmp_path / "try-it-out.png"), full_page=True)
    assert report(capsys, f"try it out {operation_id}", watch, status=int(status)) == CLEAN
    assert status == documented


def test_production_serves_no_docs(
    service: BakedService,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workdir = tmp_path_factory.mktemp("browser-production")
    statuses = {}
    for running in serve(service, workdir, "production"):
        with browser.page(running.url) as (page, watch):
            for path in ("/docs", "/redoc", "/openapi.json"):
                response = page.goto(f"{running.url}{path}")
                statuses[path] = response.status if response else 0
                assert json.loads(page.inner_text("body"))["error"] == "NOT_FOUND"
    show(capsys, f"\nbrowser tier, production: {json.dumps(statuses)}")
    assert statuses == {"/docs": 404, "/redoc": 404, "/openapi.json": 404}
    assert watch.foreign_requests == []
