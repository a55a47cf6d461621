"""Workflow runs in the admin: the list with progress, the run's page with its DAG."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from django_pgflow import start_flow
from django_pgflow.admin import dag
from django_pgflow.models import WorkflowRun

from .admin_support import register_worker, run_ready_steps, superuser_client, viewer_client

__all__ = ["superuser_client", "viewer_client"]  # fixtures

pytestmark = pytest.mark.django_db

RUNS = "admin:django_pgflow_workflowrun_changelist"


def run_page(client, run: WorkflowRun, **params: str):
    page = client.get(reverse("admin:django_pgflow_workflowrun_change", args=[run.pk]), params)
    assert page.status_code == 200
    return page.content.decode()


def square_sum(n: int) -> WorkflowRun:
    """A run of numbers -> square (map over n) -> total, with numbers done."""
    return square_sums(n)[0]


def square_sums(*sizes: int) -> list[WorkflowRun]:
    """Runs of numbers -> square (a map over n numbers) -> total, numbers done in each."""
    runs = [start_flow("square_sum", {"numbers": list(range(n))}) for n in sizes]
    worker = register_worker()
    for run, n in zip(runs, sizes, strict=True):
        run_ready_steps(run, {"numbers": list(range(n))}, worker)
    return runs


def test_run_list_shows_progress_and_filters(superuser_client):
    mapped = square_sum(120)  # numbers done; 120 square tasks queued
    other = start_flow("linear_chain", {"n": 1}, run_key="import:42")
    page = superuser_client.get(reverse(RUNS))
    assert page.status_code == 200
    rows = {r.pk: r for r in page.context["cl"].result_list}
    assert (rows[mapped.pk].steps_done, rows[mapped.pk].step_count) == (1, 3)
    assert (rows[mapped.pk].map_done, rows[mapped.pk].map_tasks) == (0, 120)
    content = page.content.decode()
    assert "0/120" in content and "1/3" in content

    def listed(**params: str) -> list[int]:
        found = superuser_client.get(reverse(RUNS), params)
        assert found.status_code == 200
        return [r.pk for r in found.context["cl"].result_list]

    assert listed(flow="square_sum") == [mapped.pk]
    assert listed(status__exact="started") == [other.pk, mapped.pk]
    assert listed(age="1h") == [other.pk, mapped.pk]
    assert listed(age="older") == []
    assert listed(q="import:42") == [other.pk]
    assert listed(q=str(mapped.pk)) == [mapped.pk]


def test_run_page_draws_the_dag_with_states_and_map_progress(superuser_client):
    run = square_sum(120)
    content = run_page(superuser_client, run)
    dag_div = content[content.index('<div class="pgflow-dag" id="dag">') :]
    svg = dag_div[: dag_div.index("</svg>")]
    steps = dict(re.findall(r'data-step="(\w+)" data-status="(\w+)"', svg))
    assert steps == {"numbers": "completed", "square": "started", "total": "created"}
    assert "started · 0/120" in svg  # the map step's tasks done/total
    assert svg.count("marker-end=") == 2  # numbers -> square -> total
    assert 'href="?step=square#tasks"' in svg  # each step links to its tasks
    assert "Tasks of square" in content  # the running step, chosen by default


def test_a_big_map_is_paginated_never_loaded_whole(superuser_client):
    run = square_sum(120)
    first = run_page(superuser_client, run, step="square")
    assert first.count('<td><a href="/admin/django_pgflow/job/') == 50
    assert "120 tasks" in first
    third = run_page(superuser_client, run, step="square", page="3")
    indices = [int(i) for i in re.findall(r"<tr class=\"row\d\">\s*<td>(\d+)</td>", third)]
    assert indices == list(range(100, 120))
    failed_only = run_page(superuser_client, run, step="square", status="failed")
    assert "No tasks failed." in failed_only


def test_cancel_and_resume_a_run_from_its_page(superuser_client):
    run = square_sum(3)
    content = run_page(superuser_client, run)
    cancel = reverse("admin:django_pgflow_workflowrun_cancel", args=[run.pk])
    assert cancel in content
    assert superuser_client.get(cancel).status_code == 405
    superuser_client.post(cancel)
    run.refresh_from_db()
    assert run.status == "cancelled"
    content = run_page(superuser_client, run)
    resume = reverse("admin:django_pgflow_workflowrun_resume", args=[run.pk])
    assert resume in content and cancel not in content
    page = superuser_client.post(resume, follow=True)
    assert f"Run {run.pk} resumed." in page.content.decode()
    run.refresh_from_db()
    assert run.status == "started"


def test_view_only_staff_see_the_run_but_cannot_cancel_or_resume(viewer_client):
    run = square_sum(3)
    content = run_page(viewer_client, run)
    cancel = reverse("admin:django_pgflow_workflowrun_cancel", args=[run.pk])
    assert cancel not in content
    assert viewer_client.post(cancel).status_code == 403
    resume = reverse("admin:django_pgflow_workflowrun_resume", args=[run.pk])
    assert viewer_client.post(resume).status_code == 403
    run.refresh_from_db()
    assert run.status == "started"
    page = reverse("admin:django_pgflow_workflowrun_change", args=[run.pk])
    assert viewer_client.post(page, {"status": "completed"}).status_code == 403


def test_an_unknown_run_is_a_404(superuser_client):
    url = reverse("admin:django_pgflow_workflowrun_change", args=[987654])
    assert superuser_client.get(url).status_code == 404


# -- the layout, alone -------------------------------------------------------------


def nodes(deps: dict[str, list[str]]) -> dict[str, dag.Node]:
    return {
        slug: dag.Node(slug=slug, status="created", href="#", detail="", tip=slug, deps=d)
        for slug, d in deps.items()
    }


def boxes(graph: dict[str, dag.Node]) -> dict[str, tuple[float, float]]:
    return {slug: (dag._x(n), dag._y(n)) for slug, n in graph.items()}


def assert_legible(graph: dict[str, dag.Node]) -> None:
    placed = boxes(graph)
    spots = list(placed.values())
    assert len(set(spots)) == len(spots), "two steps drawn on the same spot"
    for node in graph.values():
        for dep in node.deps:  # every edge points right
            assert placed[dep][0] + dag.NODE_W < placed[node.slug][0]


def test_a_chain_of_30_steps_is_one_row_left_to_right():
    slugs = [f"step_{i:02d}" for i in range(30)]
    graph = nodes({s: ([slugs[i - 1]] if i else []) for i, s in enumerate(slugs)})
    width, height = dag.layout(graph, slugs)
    assert_legible(graph)
    assert height == 2 * dag.PAD + dag.NODE_H
    assert width == 2 * dag.PAD + 30 * dag.NODE_W + 29 * dag.COL_GAP


def test_a_fan_out_of_30_is_one_column_and_the_fan_in_is_centred():
    wide = [f"branch_{i:02d}" for i in range(30)]
    graph = nodes({"fetch": [], **{b: ["fetch"] for b in wide}, "save": wide})
    _, height = dag.layout(graph, ["fetch", *wide, "save"])
    assert_legible(graph)
    assert {graph[b].layer for b in wide} == {1}
    assert height == 2 * dag.PAD + 30 * dag.NODE_H + 29 * dag.ROW_GAP
    assert graph["fetch"].row == graph["save"].row == 14.5  # centred on the column


def test_ordering_removes_the_crossings_of_two_parallel_chains():
    # a1 -> a2 and b1 -> b2, declared so that a naive layout crosses them.
    graph = nodes({"a1": [], "b1": [], "b2": ["b1"], "a2": ["a1"]})
    dag.layout(graph, ["a1", "b1", "b2", "a2"])
    assert graph["a2"].row == graph["a1"].row and graph["b2"].row == graph["b1"].row


def test_step_names_are_escaped_in_the_picture():
    graph = nodes({"a": []})
    graph["a"].tip = "<script>alert(1)</script>"
    svg = dag.render(graph, ["a"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
