"""Tests for geo.distance, with pyproj's Geod as the geodesic reference."""

from __future__ import annotations

import math

import pytest
from pyproj import Geod

from geo.distance import (
    EARTH_MEAN_RADIUS_M,
    bbox_around,
    bearing_deg,
    distance_and_bearing,
    distance_m,
    distance_matrix,
    haversine_m,
)

GEOD = Geod(ellps="WGS84")
HANGZHOU = (30.25, 120.17)
HELSINKI = (60.17, 24.94)


def _ring(lat: float, lng: float, radius_m: float, n: int) -> list[tuple[float, float]]:
    """n points at radius_m from the centre, at evenly spaced azimuths, as (lat, lng)."""
    lngs, lats, _ = GEOD.fwd([lng] * n, [lat] * n, [360.0 * k / n for k in range(n)], [radius_m] * n)
    return list(zip(lats, lngs))


def test_one_degree_of_longitude_on_the_equator():
    assert distance_m(0, 0, 0, 1) == pytest.approx(111319.49, abs=0.01)


def test_same_point():
    assert distance_m(*HANGZHOU, *HANGZHOU) == 0.0
    assert distance_and_bearing(*HANGZHOU, *HANGZHOU) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("to", "expected"),
    [((1, 0), 0.0), ((0, 1), 90.0), ((-1, 0), 180.0), ((0, -1), 270.0)],
    ids=["north", "east", "south", "west"],
)
def test_cardinal_bearings_from_the_equator(to, expected):
    assert bearing_deg(0, 0, *to) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("azimuth", [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0, 359.5])
def test_bearing_and_distance_match_geod_fwd(azimuth):
    lng2, lat2, _ = GEOD.fwd(HANGZHOU[1], HANGZHOU[0], azimuth, 3000.0)
    dist, bearing = distance_and_bearing(*HANGZHOU, lat2, lng2)
    assert dist == pytest.approx(3000.0, abs=1e-6)
    # 359.5 must not come back as -0.5, and 0 must not come back as 360.
    assert 0.0 <= bearing < 360.0
    assert bearing == pytest.approx(azimuth, abs=1e-7)


def test_bearing_never_returns_360():
    # A point a hair west of due north gives an azimuth of about -1e-14.
    assert 0.0 <= bearing_deg(0.0, 0.0, 1.0, -1e-14) < 360.0


def test_distance_is_symmetric_and_agrees_with_bearing_helpers():
    a, b = HANGZHOU, (30.21, 120.20)
    assert distance_m(*a, *b) == pytest.approx(distance_m(*b, *a), rel=1e-12)
    assert distance_and_bearing(*a, *b) == (distance_m(*a, *b), bearing_deg(*a, *b))
    assert distance_m(*a, *b) == pytest.approx(GEOD.inv(a[1], a[0], b[1], b[0])[2], abs=1e-9)


def test_distance_matrix_matches_pairwise_distances():
    points = [HANGZHOU, (30.21, 120.20), (30.26, 120.14), HELSINKI, (60.16, 24.95), (0.0, 0.0), HANGZHOU]
    matrix = distance_matrix(points)
    assert len(matrix) == len(points) and all(len(row) == len(points) for row in matrix)
    for i, p in enumerate(points):
        assert matrix[i][i] == 0.0
        for j, q in enumerate(points):
            assert matrix[i][j] == matrix[j][i]
            assert matrix[i][j] == pytest.approx(distance_m(*p, *q), abs=1e-6)


@pytest.mark.parametrize(("points", "expected"), [([], []), ([HANGZHOU], [[0.0]])])
def test_distance_matrix_trivial_inputs(points, expected):
    assert distance_matrix(points) == expected


@pytest.mark.parametrize(
    ("lat", "lng", "radius_m"),
    [
        (*HANGZHOU, 0.0),
        (*HANGZHOU, 500.0),
        (*HANGZHOU, 5_000.0),
        (*HANGZHOU, 50_000.0),
        (*HELSINKI, 1_000.0),
        (0.0, 0.0, 100.0),
        (-33.87, 151.21, 20_000.0),  # southern hemisphere
        (78.22, 15.65, 10_000.0),  # Svalbard
        (70.0, 25.0, 1_000_000.0),  # large circle: due east/west is far from the extreme longitude
    ],
)
def test_bbox_around_contains_circle_and_is_tight(lat, lng, radius_m):
    min_lng, min_lat, max_lng, max_lat = bbox_around(lat, lng, radius_m)

    def inside(p):
        return min_lat <= p[0] <= max_lat and min_lng <= p[1] <= max_lng

    assert all(inside(p) for p in _ring(lat, lng, radius_m, 16))
    # 16 directions miss the true east/west extremes; a dense ring does not.
    dense = _ring(lat, lng, radius_m, 3600)
    assert all(inside(p) for p in dense)

    lats, lngs = [p[0] for p in dense], [p[1] for p in dense]
    few_metres_lat = 5.0 / 110_000.0
    few_metres_lng = 5.0 / (111_000.0 * math.cos(math.radians(max(map(abs, lats)))))
    assert max_lat - min_lat <= 1.01 * (max(lats) - min(lats)) + few_metres_lat
    assert max_lng - min_lng <= 1.01 * (max(lngs) - min(lngs)) + few_metres_lng


def test_bbox_around_is_symmetric_in_longitude():
    min_lng, _, max_lng, _ = bbox_around(*HANGZHOU, 2_000.0)
    assert HANGZHOU[1] - min_lng == pytest.approx(max_lng - HANGZHOU[1], abs=1e-12)


def test_bbox_around_pole_spans_all_longitudes():
    assert bbox_around(89.99, 10.0, 5_000.0)[::2] == (-180.0, 180.0)
    assert bbox_around(89.99, 10.0, 5_000.0)[3] == 90.0
    assert bbox_around(-89.99, 10.0, 5_000.0)[1] == -90.0


def test_bbox_around_antimeridian_spans_all_longitudes():
    min_lng, min_lat, max_lng, max_lat = bbox_around(10.0, 179.99, 5_000.0)
    assert (min_lng, max_lng) == (-180.0, 180.0)
    assert min_lat < 10.0 < max_lat
    assert max_lat - min_lat < 0.1


def test_bbox_around_rejects_negative_radius():
    with pytest.raises(ValueError):
        bbox_around(*HANGZHOU, -1.0)


def test_haversine_on_its_sphere():
    assert haversine_m(*HANGZHOU, *HANGZHOU) == 0.0
    assert haversine_m(0, 0, 0, 1) == pytest.approx(EARTH_MEAN_RADIUS_M * math.pi / 180, rel=1e-12)
    assert haversine_m(0, 0, 0, 180) == pytest.approx(EARTH_MEAN_RADIUS_M * math.pi, rel=1e-12)


@pytest.mark.parametrize("centre", [HANGZHOU, HELSINKI], ids=["hangzhou", "helsinki"])
@pytest.mark.parametrize("radius_m", [200.0, 3_000.0, 20_000.0])
def test_haversine_within_half_a_percent_of_geodesic_at_city_scale(centre, radius_m):
    for lat, lng in _ring(*centre, radius_m, 16):
        geodesic = distance_m(*centre, lat, lng)
        assert haversine_m(*centre, lat, lng) == pytest.approx(geodesic, rel=0.005)
