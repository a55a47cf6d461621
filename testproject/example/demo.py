"""Example work for ``python manage.py pgflow_demo``.

Documents to embed (one job each, enqueued in the transaction that creates the
document), digests whose first attempt fails (real retries), and a burst of
no-ops enqueued in one round trip. Nothing here runs a task: workers do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.db import transaction

from django_pgflow import enqueue_many

from .models import Document
from .tasks import embed_document, embed_text, noop, send_digest

TOPICS = (
    "retrieval",
    "embeddings",
    "transformers",
    "databases",
    "queues",
    "scheduling",
    "evaluation",
    "tokenizers",
)
VOCABULARY = (
    "vector model index query latency batch shard replica lease worker queue "
    "token layer attention gradient dataset label cluster cosine distance recall "
    "precision prompt context window cache commit rollback snapshot partition "
    "throughput backoff retry heartbeat transaction postgres table row column"
)
WORDS = VOCABULARY.split()


@dataclass
class DemoWork:
    """What one demo run created: the ids to watch, and nothing else."""

    document_ids: list[int] = field(default_factory=list)
    job_ids: dict[str, list[int]] = field(default_factory=dict)  # task name -> job ids

    @property
    def all_job_ids(self) -> list[int]:
        return [job_id for ids in self.job_ids.values() for job_id in ids]


def generate_text(rng: random.Random, topic: str) -> str:
    """A few sentences of plausible filler about ``topic``."""
    sentences = []
    for _ in range(rng.randint(3, 8)):
        words = rng.choices(WORDS, k=rng.randint(6, 14))
        words.insert(rng.randrange(len(words)), topic)
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def create_documents(count: int, rng: random.Random) -> list[Document]:
    documents = []
    for number in range(1, count + 1):
        topic = rng.choice(TOPICS)
        documents.append(
            Document(title=f"Notes on {topic} #{number}", text=generate_text(rng, topic))
        )
    return Document.objects.bulk_create(documents)


def load(documents: int, digests: int, noops: int, seed: int | None = None) -> DemoWork:
    """Create the example rows and enqueue their jobs, all in one transaction."""
    rng = random.Random(seed)
    work = DemoWork()
    with transaction.atomic():
        created = create_documents(documents, rng)
        work.document_ids = [document.pk for document in created]
        work.job_ids[embed_document.name] = [
            embed_document.enqueue(document.pk).pk for document in created
        ]
        work.job_ids[send_digest.name] = [
            send_digest.enqueue(f"reader{number}@example.com").pk
            for number in range(1, digests + 1)
        ]
        work.job_ids[noop.name] = enqueue_many(noop.s() for _ in range(noops))
    return work


@dataclass(frozen=True)
class EmbeddingCheck:
    documents: int
    embedded: int
    correct: int  # vectors equal to embed_text(text), recomputed here

    @property
    def ok(self) -> bool:
        return self.documents == self.embedded == self.correct


def check_embeddings(document_ids: list[int]) -> EmbeddingCheck:
    """Read back the documents and recompute each vector the workers stored."""
    rows = Document.objects.filter(pk__in=document_ids).values_list("text", "embedding")
    embedded = correct = 0
    for text, embedding in rows.iterator(chunk_size=500):
        if embedding is None:
            continue
        embedded += 1
        correct += embedding == embed_text(text)
    return EmbeddingCheck(documents=len(document_ids), embedded=embedded, correct=correct)
