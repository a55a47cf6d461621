"""The admin in a real browser: Playwright drives Debian's chromium against a live
server while real worker threads run the work the pages show.

It logs in; opens a run's DAG while a step runs; retries a failed job and sees it
complete; opens the contention page while a job holds the GPU and another waits;
and checks that the job list fits a 1280 px screen. It saves the screenshots of
the admin tour (docs/guides/admin.md): set PGFLOW_SCREENSHOTS=docs/images/admin
to refresh them; by default they go to the test's temporary folder.

In CI (CI=true) a missing chromium or playwright fails the test: never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from django_pgflow.models import Job, StepState

from ..conftest import wait_for
from . import tour

CHROMIUM = os.environ.get("PGFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        return f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"The browser test must run in CI, but {missing}.")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of
    # the test itself are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()
    _end_idle_server_connections()


def _end_idle_server_connections() -> None:
    """The live server (one per session) keeps a request thread's connection
    while the browser keeps its socket open, past the browser's close: end
    those left idle, so that later tests see no connection but their own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND application_name = '' "
            "AND state = 'idle'"
        )


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PGFLOW_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Any, base: str) -> None:
    User.objects.create_superuser("ops", "ops@example.com", "a-long-password")
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def step_status(run_id: int, slug: str) -> str:
    return StepState.objects.get(run_id=run_id, step_slug=slug).status


def test_the_admin_tour(browser_page, live_server, worker_thread, shots):
    page, base = browser_page, live_server.url
    tour.ANALYZE_GOES.clear()
    tour.GPU_FREE.clear()
    worker = worker_thread(concurrency=4)
    try:
        log_in(page, base)
        see_a_run_while_it_runs(page, base, shots)
        retry_a_failed_job(page, base, shots)
        watch_a_job_wait_for_the_gpu(page, base, shots)
        the_lists_fit_the_screen(page, base, shots)
    finally:
        tour.ANALYZE_GOES.set()
        tour.GPU_FREE.set()
        worker.stop()


def see_a_run_while_it_runs(page: Any, base: str, shots: Path) -> None:
    run = tour.AdminTour.start({"n": 24})
    wait_for(lambda: step_status(run.pk, "embed") == "completed")
    wait_for(lambda: step_status(run.pk, "analyze") == "started")
    page.goto(f"{base}/admin/django_pgflow/workflowrun/{run.pk}/")
    dag = page.locator("#dag svg")
    assert dag.locator('a[data-step="analyze"]').get_attribute("data-status") == "started"
    assert dag.locator('a[data-step="save"]').get_attribute("data-status") == "created"
    assert "completed · 24/24" in (dag.locator('a[data-step="embed"]').text_content() or "")
    page.screenshot(path=shots / "run-dag.png")
    dag.locator('a[data-step="embed"]').click()  # a step links to its tasks
    page.wait_for_selector("text=Tasks of embed")
    assert page.locator("#task-list tbody tr").count() == 24
    tour.ANALYZE_GOES.set()
    run.wait(timeout=60)
    page.goto(f"{base}/admin/django_pgflow/workflowrun/?flow=admin_tour")
    assert (
        page.locator("#result_list tbody tr").first.locator(".field-steps_progress").inner_text()
        == "5/5"
    )


def retry_a_failed_job(page: Any, base: str, shots: Path) -> None:
    job = tour.fails_first_time.enqueue("nightly-report")
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "failed")
    page.goto(f"{base}/admin/django_pgflow/job/{job.pk}/change/")
    assert "ConnectionError: nightly-report: the upstream API timed out" in page.content()
    page.screenshot(path=shots / "job-failed.png", full_page=True)
    page.click("form.pgflow-button button:has-text('Retry')")
    page.wait_for_selector(f"text=Job {job.pk} requeued.")
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "completed")
    page.reload()
    assert page.locator(".field-status_badge .readonly").inner_text() == "completed"


def watch_a_job_wait_for_the_gpu(page: Any, base: str, shots: Path) -> None:
    holder = tour.on_the_gpu.enqueue("embed-batch-1")
    waiter = tour.on_the_gpu.enqueue("embed-batch-2")
    wait_for(lambda: Job.objects.get(pk=holder.pk).status == "started")
    assert Job.objects.get(pk=waiter.pk).status == "queued"
    page.goto(f"{base}/admin/django_pgflow/lockcontention/")
    row = page.locator('tr[data-gate="resource:gpu"]')
    assert f"job {holder.pk}" in row.locator(".holders").inner_text()
    assert f"job {waiter.pk}" in row.locator(".waiters").inner_text()
    assert row.locator(".waiting").inner_text() == "1"
    page.screenshot(path=shots / "contention.png", full_page=True)
    tour.GPU_FREE.set()
    wait_for(lambda: Job.objects.get(pk=waiter.pk).status == "completed")


def the_lists_fit_the_screen(page: Any, base: str, shots: Path) -> None:
    page.goto(f"{base}/admin/django_pgflow/queueoverview/")
    page.screenshot(path=shots / "queues.png")
    for path in ("job", "workflowrun", "worker"):
        page.goto(f"{base}/admin/django_pgflow/{path}/")
        results = page.locator("#changelist .results")
        width = results.evaluate("e => [e.scrollWidth, e.clientWidth]")
        columns = results.evaluate(
            "e => [...e.querySelectorAll('thead th')].map(th => [th.className, th.offsetWidth])"
        )
        assert width[0] <= width[1], f"the {path} list is cut at 1280 px: {width} {columns}"
        if path == "job":
            page.screenshot(path=shots / "jobs.png")
