import pytest

from testproject.example.models import Execution
from testproject.example.tasks import record

from .conftest import wait_for


@pytest.mark.django_db(transaction=True)
def test_worker_thread_runs_a_job(worker_thread):
    job = record.enqueue("hello")
    w = worker_thread()
    wait_for(lambda: job.refresh().status == "completed", 10)
    assert job.result == "hello"
    assert Execution.objects.filter(key="hello").count() == 1
    w.stop()
