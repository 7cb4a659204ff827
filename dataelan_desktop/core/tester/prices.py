"""Estimated cost of a reply from the editable price table in resources/prices.json."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..paths import resources_dir


@lru_cache(maxsize=4)
def load_prices(path: Path | None = None) -> dict[str, dict[str, float]]:
    path = path or resources_dir() / "prices.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("models", {})
    except (OSError, ValueError):
        return {}


def estimate_cost(model_ref: str, input_tokens: int | None, output_tokens: int | None) -> float | None:
    """Dollars, or None when the model has no price (local models cost 0)."""
    if model_ref.startswith("local:"):
        return 0.0
    price = load_prices().get(model_ref)
    if price is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * price["input"] + output_tokens * price["output"]) / 1_000_000
