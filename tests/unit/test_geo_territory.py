"""Territory boundary validation: pure shapely/pyproj, no database."""

from __future__ import annotations

import pytest

from geo.territory import TerritoryGeometryError, geodesic_area_m2, parse_geojson, validate_territory

LIMITS = {"max_vertices": 50, "max_area_km2": 2000}
SQUARE = [[120.15, 30.25], [120.19, 30.25], [120.19, 30.28], [120.15, 30.28], [120.15, 30.25]]


def polygon(*rings):
    return {"type": "Polygon", "coordinates": list(rings)}


def error_of(geojson, **limits) -> TerritoryGeometryError:
    with pytest.raises(TerritoryGeometryError) as caught:
        validate_territory(geojson, **{**LIMITS, **limits})
    return caught.value


def test_a_valid_polygon_becomes_a_measured_multipolygon():
    shape = validate_territory(polygon(SQUARE), **LIMITS)
    assert shape.geometry.geom_type == "MultiPolygon"
    assert shape.vertices == 4
    # 0.04° x 0.03° at 30°N: about 3.85 km x 3.33 km
    assert 12.5e6 < shape.area_m2 < 13.3e6
    assert shape.geojson()["type"] == "MultiPolygon"
    assert shape.geojson()["coordinates"][0][0][0] == [120.15, 30.25]


def test_a_hole_is_subtracted_from_the_area():
    hole = [[120.16, 30.26], [120.17, 30.26], [120.17, 30.27], [120.16, 30.27], [120.16, 30.26]]
    with_hole = validate_territory(polygon(SQUARE, hole), **LIMITS)
    assert with_hole.area_m2 < validate_territory(polygon(SQUARE), **LIMITS).area_m2
    assert with_hole.vertices == 8


def test_self_intersection_reports_shapelys_reason_and_the_location():
    bow_tie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    error = error_of(polygon(bow_tie))
    assert error.code == "SELF_INTERSECTION"
    assert error.reason == "Self-intersection"
    assert error.location == [0.5, 0.5]
    assert error.as_dict() == {"code": "SELF_INTERSECTION", "reason": "Self-intersection", "location": [0.5, 0.5]}


def test_overlapping_parts_of_a_multipolygon_are_invalid():
    other = [[120.17, 30.26], [120.25, 30.26], [120.25, 30.30], [120.17, 30.30], [120.17, 30.26]]
    error = error_of({"type": "MultiPolygon", "coordinates": [[SQUARE], [other]]})
    assert error.code == "SELF_INTERSECTION"
    assert error.location is not None


def test_an_unclosed_ring_names_the_ring_and_its_last_position():
    error = error_of(polygon(SQUARE[:-1] + [[120.15, 30.26]]))
    assert error.code == "UNCLOSED_RING"
    assert error.path == "coordinates[0]"
    assert error.location == [120.15, 30.26]


def test_too_few_positions():
    assert error_of(polygon([[0, 0], [1, 0], [0, 0]])).code == "TOO_FEW_POSITIONS"


def test_a_huge_area_is_refused():
    continent = [[70, 20], [130, 20], [130, 50], [70, 50], [70, 20]]
    error = error_of(polygon(continent))
    assert error.code == "AREA_TOO_LARGE"
    assert "km²" in error.reason


def test_the_area_limit_comes_from_the_caller():
    validate_territory(polygon(SQUARE), **{**LIMITS, "max_area_km2": 13.5})
    assert error_of(polygon(SQUARE), max_area_km2=10).code == "AREA_TOO_LARGE"


def test_a_ring_jumping_across_the_antimeridian_is_refused():
    # a 2°-wide box around 180° drawn with raw longitudes: planar it spans 358° of longitude
    nonsense = [[179, -17], [-179, -17], [-179, -16], [179, -16], [179, -17]]
    error = error_of(polygon(nonsense), max_area_km2=1e9)
    assert error.code == "SPANS_ANTIMERIDIAN"


def test_a_box_split_at_the_antimeridian_is_fine():
    east = [[179, -17], [180, -17], [180, -16], [179, -16], [179, -17]]
    west = [[-180, -17], [-179, -17], [-179, -16], [-180, -16], [-180, -17]]
    shape = validate_territory(
        {"type": "MultiPolygon", "coordinates": [[east], [west]]}, **{**LIMITS, "max_area_km2": 1e5}
    )
    assert len(shape.geometry.geoms) == 2


def test_too_many_vertices():
    error = error_of(polygon(SQUARE), max_vertices=3)
    assert error.code == "TOO_MANY_VERTICES"


@pytest.mark.parametrize(
    "geojson, code",
    [
        ({"type": "Point", "coordinates": [1, 2]}, "UNSUPPORTED_GEOMETRY"),
        ("not even a dict", "UNSUPPORTED_GEOMETRY"),
        (polygon([[0, 0], [1, 0], [1, "x"], [0, 0]]), "INVALID_POSITION"),
        (polygon([[0, 0], [1, 0], [1, float("nan")], [0, 0]]), "INVALID_POSITION"),
        (polygon([[30, 120], [31, 120], [31, 121], [30, 120]]), "OUT_OF_RANGE"),
        ({"type": "Polygon", "coordinates": []}, "INVALID_POLYGON"),
        ({"type": "MultiPolygon", "coordinates": "x"}, "INVALID_POLYGON"),
        (polygon("abc"), "INVALID_RING"),
    ],
)
def test_malformed_geojson(geojson, code):
    assert error_of(geojson).code == code


def test_a_degenerate_polygon_has_no_area():
    flat = [[0, 0], [1, 0], [2, 0], [0, 0]]
    assert error_of(polygon(flat)).code in (
        "TOO_FEW_POINTS",
        "SELF_INTERSECTION",
        "AREA_TOO_SMALL",
        "RING_SELF_INTERSECTION",
    )


def test_geodesic_area_of_a_degree_at_the_equator():
    one_degree = parse_geojson(polygon([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]))
    assert geodesic_area_m2(one_degree) == pytest.approx(12_308e6, rel=0.01)
