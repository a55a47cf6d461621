"""A flow with typed boundaries: pydantic models and a dataclass in and out.

Imported by ``flows.py`` only when pydantic is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from django_pgflow import Flow, step


class Order(BaseModel):
    sku: str
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)


class Priced(BaseModel):
    sku: str
    total: float


@dataclass
class Receipt:
    sku: str
    total: float
    line: str


class TypedOrder(Flow):
    """The run input is validated as an ``Order``; a bad one fails ``price`` without retry."""

    slug = "typed_order"

    @step(max_attempts=3)
    def price(self, input: Order) -> Priced:
        return Priced(sku=input.sku, total=round(input.quantity * input.unit_price, 2))

    @step(depends_on=["price"])
    def receipt(self, price: Priced) -> Receipt:
        return Receipt(sku=price.sku, total=price.total, line=f"{price.sku}: {price.total:.2f}")


class TypedInputEverywhere(Flow):
    """A dependent step takes the run input too, parsed as an ``Order`` like the root's."""

    slug = "typed_input_everywhere"

    @step()
    def price(self, input: Order) -> Priced:
        return Priced(sku=input.sku, total=round(input.quantity * input.unit_price, 2))

    @step(depends_on=["price"])
    def receipt(self, price: Priced, input: Order) -> Receipt:
        line = f"{input.quantity} x {input.sku}: {price.total:.2f}"
        return Receipt(sku=price.sku, total=price.total, line=line)
