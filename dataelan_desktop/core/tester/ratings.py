"""Ratings from pairwise votes: Elo (online) and Bradley–Terry (fitted), with the 95% interval the
fitted model gives (from its curvature), or none while a model has too few votes."""

from __future__ import annotations

import math
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


def best_of(models: Sequence[str], winner: int) -> list[Vote]:
    """ "Column ``winner`` is the best": it beats each of the others (the others are not compared)."""
    return [Vote(models[winner], m, "left") for i, m in enumerate(models) if i != winner]


def ranked(models: Sequence[str], ranks: Sequence[int]) -> list[Vote]:
    """A full ranking (1 = best, equal numbers tie) as the pairwise votes it implies."""
    if len(ranks) != len(models):
        raise ValueError("Give every column a rank.")
    votes = []
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            outcome = "tie" if ranks[i] == ranks[j] else ("left" if ranks[i] < ranks[j] else "right")
            votes.append(Vote(models[i], models[j], outcome))
    return votes


def all_pairs(models: Sequence[str], outcome: str) -> list[Vote]:
    """ "All equal" (tie) or "all bad" (both_bad) among every pair of columns."""
    score(outcome)  # validates
    return [
        Vote(models[i], models[j], outcome) for i in range(len(models)) for j in range(i + 1, len(models))
    ]


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


#: below this many votes a model's interval would be mostly the prior talking: say "too few votes"
MIN_VOTES_FOR_INTERVAL = 5
_ELO_PER_NAT = 400 / math.log(10)  # ratings are 400·log10(strength): one natural-log unit in rating points


@dataclass(frozen=True)
class Standing:
    model: str
    rating: float
    low: float | None  # None: too few votes for an interval worth showing
    high: float | None
    votes: int

    def interval(self) -> str:
        """The band as people read it: "1040–1180", or "too few votes"."""
        if self.low is None or self.high is None:
            return "too few votes"
        return f"{self.low:.0f}–{self.high:.0f}"


def _standard_errors(
    votes: Sequence[Vote], ratings: dict[str, float], prior: float = 0.5
) -> dict[str, float]:
    """Each model's standard error in rating points, from the inverse of the fitted model's
    information matrix (the prior's virtual games against strength 1 included, as in the fit)."""
    models = list(ratings)
    index = {m: i for i, m in enumerate(models)}
    theta = {m: (ratings[m] - 1000) / _ELO_PER_NAT for m in models}  # natural-log strengths
    n = len(models)
    info = [[0.0] * n for _ in range(n)]
    for m in models:  # the prior: 2·prior virtual games against an opponent of strength 1 (θ = 0)
        p = 1 / (1 + math.exp(-theta[m]))
        info[index[m]][index[m]] += 2 * prior * p * (1 - p)
    for v in votes:
        a, b = index[v.left], index[v.right]
        p = 1 / (1 + math.exp(theta[v.right] - theta[v.left]))
        w = p * (1 - p)
        info[a][a] += w
        info[b][b] += w
        info[a][b] -= w
        info[b][a] -= w
    cov = _invert(info)
    # ratings are only known relative to each other (the fit centres them on 1000): the error of a
    # model's distance from the mean, so the common level that only the prior pins does not count
    errors = {}
    for m in models:
        i = index[m]
        c = [(1.0 if j == i else 0.0) - 1 / n for j in range(n)]
        variance = sum(c[j] * cov[j][k] * c[k] for j in range(n) for k in range(n))
        errors[m] = math.sqrt(max(variance, 0.0)) * _ELO_PER_NAT
    return errors


def _invert(matrix: list[list[float]]) -> list[list[float]]:
    """Gauss–Jordan inverse of a small symmetric positive-definite matrix (the prior keeps it so)."""
    n = len(matrix)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        scale = a[col][col]
        a[col] = [x / scale for x in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                factor = a[r][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def leaderboard(votes: Sequence[Vote], category: str | None = None) -> list[Standing]:
    """Bradley–Terry ratings, best first, each with its 95% interval (±1.96 standard errors of the
    fit), or no interval while the model has fewer than ``MIN_VOTES_FOR_INTERVAL`` votes.

    A bootstrap of one vote resamples that vote every time and gives a zero-width band: a certain
    look the data cannot support. The fit's own curvature says how little one vote pins down."""
    chosen = [v for v in votes if category is None or v.category == category]
    if not chosen:
        return []
    ratings = bradley_terry(chosen)
    errors = _standard_errors(chosen, ratings)
    counts = {m: sum(1 for v in chosen if m in (v.left, v.right)) for m in ratings}
    standings = []
    for m, r in ratings.items():
        if counts[m] < MIN_VOTES_FOR_INTERVAL:
            standings.append(Standing(m, r, None, None, counts[m]))
        else:
            half = 1.96 * errors[m]
            standings.append(Standing(m, r, r - half, r + half, counts[m]))
    return sorted(standings, key=lambda x: x.rating, reverse=True)
