"""Day-plan ordering: exact on small plans (checked against brute force), good and fast on large ones."""

from __future__ import annotations

import itertools
import random

import pytest

from geo.distance import distance_matrix
from geo.route import EXACT_LIMIT, _nearest_neighbour, _or_opt, _two_opt, path_length, plan, solve


def random_stops(seed, n, center=(30.25, 120.17), spread=0.02):
    rng = random.Random(seed)
    return [(center[0] + rng.uniform(-spread, spread), center[1] + rng.uniform(-spread, spread)) for _ in range(n)]


def brute_force(matrix):
    n = len(matrix) - 1
    return min(path_length(order, matrix) for order in itertools.permutations(range(1, n + 1)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8])
@pytest.mark.parametrize("seed", range(5))
def test_small_plans_are_optimal(n, seed):
    points = random_stops(seed, n + 1)
    matrix = distance_matrix(points)
    order = solve(matrix)
    assert sorted(order) == list(range(1, n + 1))
    assert path_length(order, matrix) == pytest.approx(brute_force(matrix), rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_heuristic_is_optimal_on_small_cases_too(seed):
    """The heuristic used above EXACT_LIMIT, run on 8 stops, against brute force."""
    matrix = distance_matrix(random_stops(100 + seed, 9))
    path = [0, *_nearest_neighbour(matrix)]
    while _two_opt(path, matrix) | _or_opt(path, matrix):
        pass
    assert path_length(path[1:], matrix) <= brute_force(matrix) * 1.05


def test_large_plan_visits_everything_and_beats_nearest_neighbour():
    start, *stops = random_stops(7, 101)
    order, legs = plan(start, stops)
    assert sorted(order) == list(range(100))
    matrix = distance_matrix([start, *stops])
    nearest = path_length(_nearest_neighbour(matrix), matrix)
    assert sum(legs) == pytest.approx(path_length([i + 1 for i in order], matrix))
    assert sum(legs) < nearest
    assert len(stops) > EXACT_LIMIT


def test_points_on_a_street_are_walked_in_order():
    start = (30.25, 120.17)
    stops = [(30.25, 120.17 + 0.001 * k) for k in (5, 2, 9, 1, 7, 3, 8, 4, 6, 10, 11, 12)]
    order, legs = plan(start, stops)
    assert [stops[i][1] for i in order] == sorted(s[1] for s in stops)
    assert legs[0] == pytest.approx(96.5, abs=1)


def test_no_stops():
    assert plan((30.0, 120.0), []) == ([], [])
