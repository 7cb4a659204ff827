"""Ratings from pairwise votes: Elo (online) and Bradley–Terry (fitted), with bootstrap bands."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

OUTCOMES = {"left": 1.0, "right": 0.0, "tie": 0.5}  # score of the left model; "both_bad" counts as a tie


@dataclass(frozen=True)
class Vote:
    left: str
    right: str
    outcome: str  # left | right | tie | both_bad
    category: str | None = None


def score(outcome: str) -> float:
    if outcome == "both_bad":
        return 0.5
    if outcome not in OUTCOMES:
        raise ValueError(f"Unknown vote '{outcome}': use left, right, tie or both_bad.")
    return OUTCOMES[outcome]


def elo(votes: Sequence[Vote], k: float = 32.0, initial: float = 1000.0) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for v in votes:
        a, b = ratings.setdefault(v.left, initial), ratings.setdefault(v.right, initial)
        expected_a = 1 / (1 + 10 ** ((b - a) / 400))
        s = score(v.outcome)
        ratings[v.left] = a + k * (s - expected_a)
        ratings[v.right] = b + k * ((1 - s) - (1 - expected_a))
    return ratings


def bradley_terry(votes: Sequence[Vote], iterations: int = 200, prior: float = 0.5) -> dict[str, float]:
    """Strengths by the MM algorithm (Hunter 2004), ties as half a win each, on an Elo-like scale.

    ``prior`` adds that many virtual ties against an average opponent, so a model
    that never lost does not run off to infinity.
    """
    models = sorted({v.left for v in votes} | {v.right for v in votes})
    if not models:
        return {}
    wins = {m: prior for m in models}
    games: dict[tuple[str, str], float] = {}
    for v in votes:
        s = score(v.outcome)
        wins[v.left] += s
        wins[v.right] += 1 - s
        key = tuple(sorted((v.left, v.right)))
        games[key] = games.get(key, 0) + 1
    strength = {m: 1.0 for m in models}
    for _ in range(iterations):
        new = {}
        for m in models:
            denominator = 2 * prior / (strength[m] + 1.0)  # the virtual games against strength 1
            for (a, b), n in games.items():
                if m in (a, b):
                    other = b if m == a else a
                    denominator += n / (strength[m] + strength[other])
            new[m] = wins[m] / denominator if denominator else strength[m]
        mean = math.exp(sum(math.log(x) for x in new.values()) / len(new))
        strength = {m: x / mean for m, x in new.items()}
    return {m: 1000 + 400 * math.log10(x) for m, x in strength.items()}


@dataclass(frozen=True)
class Standing:
    model: str
    rating: float
    low: float
    high: float
    votes: int


def leaderboard(
    votes: Sequence[Vote], category: str | None = None, resamples: int = 200, seed: int = 7
) -> list[Standing]:
    """Bradley–Terry ratings with a 95% bootstrap band, best first."""
    chosen = [v for v in votes if category is None or v.category == category]
    if not chosen:
        return []
    ratings = bradley_terry(chosen)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {m: [] for m in ratings}
    for _ in range(resamples):
        resampled = bradley_terry([rng.choice(chosen) for _ in chosen], iterations=60)
        for m in ratings:
            samples[m].append(resampled.get(m, 1000.0))
    counts = {m: sum(1 for v in chosen if m in (v.left, v.right)) for m in ratings}
    standings = []
    for m, r in ratings.items():
        s = sorted(samples[m])
        standings.append(
            Standing(m, r, s[int(0.025 * (len(s) - 1))], s[int(0.975 * (len(s) - 1))], counts[m])
        )
    return sorted(standings, key=lambda x: x.rating, reverse=True)
