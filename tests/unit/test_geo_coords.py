"""Tests for geo.coords against real Amap/Baidu coordinate pairs.

The oracle is the Hangzhou merchant CSV outside the repository (see
/work/shared/data/README.md). It must not be copied into the repo, so these
tests read it in place and skip if it is absent.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyproj import Geod

from geo.coords import (
    CoordSys,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
HANGZHOU_CSV = "hangzhou_amap_poi86_2017_merchants.csv"
HELSINKI = (60.17, 24.94)

# Spread over China, including points near the edges of the GCJ-02 box.
SYNTHETIC_CHINA = [
    (39.9042, 116.4074),  # Beijing
    (31.2304, 121.4737),  # Shanghai
    (22.5431, 114.0579),  # Shenzhen
    (43.8256, 87.6168),  # Urumqi
    (45.8038, 126.5350),  # Harbin
    (18.2528, 109.5119),  # Sanya
    (29.6520, 91.1721),  # Lhasa
    (53.4, 122.3),  # Mohe, far north
    (1.0, 104.0),  # just inside the southern edge of the box
    (40.0, 72.1),  # just inside the western edge
]

ALL_CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


def _shared_data_dir() -> Path:
    env = os.environ.get("SHARED_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def hangzhou() -> list[dict]:
    """Every row of the Hangzhou CSV as {id, wgs, gcj, bd} with (lat, lng) floats."""
    path = _shared_data_dir() / HANGZHOU_CSV
    if not path.is_file():
        pytest.skip(f"real-data oracle {path} not found; set SHARED_DATA_DIR to the folder holding {HANGZHOU_CSV}")
    with path.open(encoding="utf-8", newline="") as f:
        return [
            {
                "id": row["source_id"],
                "wgs": (float(row["lat"]), float(row["lon"])),
                "gcj": (float(row["lat_gcj02"]), float(row["lon_gcj02"])),
                "bd": (float(row["lat_bd09"]), float(row["lon_bd09"])),
            }
            for row in csv.DictReader(f)
        ]


def _distances(got: list[tuple[float, float]], want: list[tuple[float, float]]) -> list[float]:
    """Geodesic metres between paired (lat, lng) points, in one vectorised call."""
    return GEOD.inv([p[1] for p in got], [p[0] for p in got], [p[1] for p in want], [p[0] for p in want])[2]


def _assert_all_rows_within(rows, convert, src: str, dst: str, tolerance_m: float) -> None:
    got = [convert(*row[src]) for row in rows]
    dists = _distances(got, [row[dst] for row in rows])
    worst = max(range(len(rows)), key=dists.__getitem__)
    assert dists[worst] < tolerance_m, (
        f"{convert.__name__}: max error {dists[worst]:.3f} m at {rows[worst]['id']} "
        f"(tolerance {tolerance_m} m, {len(rows)} rows)"
    )


def test_oracle_has_all_rows(hangzhou):
    assert len(hangzhou) == 12186


def test_gcj02_to_wgs84_matches_every_row(hangzhou):
    _assert_all_rows_within(hangzhou, gcj02_to_wgs84, "gcj", "wgs", 2.0)


def test_bd09_to_gcj02_matches_every_row(hangzhou):
    _assert_all_rows_within(hangzhou, bd09_to_gcj02, "bd", "gcj", 1.0)


def test_wgs84_to_gcj02_matches_every_row(hangzhou):
    _assert_all_rows_within(hangzhou, wgs84_to_gcj02, "wgs", "gcj", 2.0)


def test_gcj02_to_bd09_matches_every_row(hangzhou):
    _assert_all_rows_within(hangzhou, gcj02_to_bd09, "gcj", "bd", 1.0)


ROUND_TRIPS = pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02), (wgs84_to_bd09, bd09_to_wgs84)],
    ids=["gcj02", "bd09-from-gcj02", "bd09-from-wgs84"],
)


def _assert_round_trips(forward, inverse, starts) -> None:
    back = [inverse(*forward(*p)) for p in starts]
    worst = max(_distances(back, starts))
    assert worst < 0.01, f"{forward.__name__} then {inverse.__name__}: max error {worst:.6f} m"


@ROUND_TRIPS
def test_round_trip_synthetic_points(forward, inverse):
    _assert_round_trips(forward, inverse, SYNTHETIC_CHINA + [HELSINKI])


@ROUND_TRIPS
def test_round_trip_hangzhou_sample(hangzhou, forward, inverse):
    _assert_round_trips(forward, inverse, [row["wgs"] for row in hangzhou[::50]])


def test_inverse_is_exact_preimage_of_forward():
    # The inverses must undo the forward formula, not just approximate it.
    for lat, lng in SYNTHETIC_CHINA:
        assert wgs84_to_gcj02(*gcj02_to_wgs84(lat, lng)) == pytest.approx((lat, lng), abs=1e-8)
        assert gcj02_to_bd09(*bd09_to_gcj02(lat, lng)) == pytest.approx((lat, lng), abs=1e-8)


def test_outside_china_gcj02_equals_wgs84():
    assert out_of_china(*HELSINKI)
    assert wgs84_to_gcj02(*HELSINKI) == HELSINKI
    assert gcj02_to_wgs84(*HELSINKI) == HELSINKI
    # BD-09 still applies its own tweak on top of the (identity) GCJ-02.
    assert wgs84_to_bd09(*HELSINKI) == gcj02_to_bd09(*HELSINKI)
    assert wgs84_to_bd09(*HELSINKI) != HELSINKI


def test_out_of_china_box():
    assert not out_of_china(30.25, 120.17)
    assert out_of_china(0.5, 104.0)  # south of the box
    assert out_of_china(40.0, 72.0)  # west of the box
    assert out_of_china(56.0, 120.0)  # north of the box
    assert out_of_china(30.0, 138.0)  # east of the box


# Pairs of towns facing each other across a border, a few km apart: (China side, other side).
BORDER_PAIRS = {
    "Dandong / Sinuiju (Yalu, North Korea)": ((40.1292, 124.3947), (40.1006, 124.3981)),
    "Shenzhen Futian / Sheung Shui (Hong Kong)": ((22.5350, 114.0600), (22.5015, 114.1280)),
    "Zhuhai Gongbei / Macao peninsula": ((22.2300, 113.5550), (22.1987, 113.5439)),
    "Ruili / Muse (Myanmar)": ((24.0128, 97.8510), (23.9985, 97.9052)),
    "Erenhot / Zamyn-Uud (Mongolia)": ((43.6531, 111.9773), (43.7250, 111.9050)),
    "Heihe / Blagoveshchensk (Amur, Russia)": ((50.2450, 127.4960), (50.2790, 127.5270)),
    "Pingxiang / Dong Dang (Vietnam)": ((22.1000, 106.7600), (21.9500, 106.7000)),
    "Xiamen / Kinmen (Taiwan)": ((24.4800, 118.0900), (24.4300, 118.3200)),
}
# Inside the crude box, outside mainland China: Chinese SDKs report WGS84 there.
IN_BOX_ABROAD = {
    "Delhi": (28.6139, 77.2090),
    "Seoul": (37.5665, 126.9780),
    "Hanoi": (21.0278, 105.8342),
    "Ulaanbaatar": (47.8864, 106.9057),
    "Pyongyang": (39.0300, 125.7500),
    "Kathmandu": (27.7000, 85.3200),
    "Hong Kong Central": (22.2800, 114.1600),
    "Taipei": (25.0330, 121.5650),
}
# Harbour fronts and islands a coarse coastline could cut off, and the edges of the country.
COASTAL_AND_FAR_CHINA = {
    "Shanghai Bund": (31.2400, 121.4900),
    "Qingdao": (36.0700, 120.3800),
    "Zhuhai Xiangzhou": (22.2710, 113.5767),
    "Sanya": (18.2528, 109.5119),
    "Mohe": (53.4000, 122.3000),
    "Kashgar": (39.4700, 75.9900),
    "Lhasa": (29.6520, 91.1721),
}


@pytest.mark.parametrize("name", BORDER_PAIRS)
def test_border_towns_on_both_sides(name):
    china_side, other_side = BORDER_PAIRS[name]
    assert in_china_box(*china_side) and in_china_box(*other_side)
    assert not out_of_china(*china_side)
    assert out_of_china(*other_side)
    assert wgs84_to_gcj02(*other_side) == other_side
    assert gcj02_to_wgs84(*other_side) == other_side
    shifted = wgs84_to_gcj02(*china_side)
    assert GEOD.inv(china_side[1], china_side[0], shifted[1], shifted[0])[2] > 100


@pytest.mark.parametrize("name", IN_BOX_ABROAD)
def test_in_box_but_abroad_is_not_shifted(name):
    point = IN_BOX_ABROAD[name]
    assert in_china_box(*point)
    assert out_of_china(*point)
    assert to_wgs84(*point, "gcj02") == point
    assert from_wgs84(*point, "gcj02") == point
    # BD-09 keeps Baidu's own tweak, on top of an identity GCJ-02
    assert to_wgs84(*point, "bd09") == gcj02_to_wgs84(*bd09_to_gcj02(*point))


@pytest.mark.parametrize("name", COASTAL_AND_FAR_CHINA)
def test_coastal_and_far_cities_are_china(name):
    assert not out_of_china(*COASTAL_AND_FAR_CHINA[name])


def test_boundary_data_carries_its_attribution():
    readme = (Path(__file__).resolve().parents[2] / "geo" / "data" / "README.md").read_text()
    assert "Natural Earth" in readme and "public domain" in readme


@pytest.mark.parametrize("conversion", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_results_are_finite_float_tuples(conversion):
    points = SYNTHETIC_CHINA + [HELSINKI, (0, 0), (90, 180), (-90, -180), (0.8293, 72.004), (55.8271, 137.8347)]
    for lat, lng in points:
        result = conversion(lat, lng)
        assert isinstance(result, tuple) and len(result) == 2
        assert all(isinstance(v, float) and math.isfinite(v) for v in result), (conversion.__name__, lat, lng)


@pytest.mark.parametrize(
    ("coord_sys", "direct_to", "direct_from"),
    [
        ("wgs84", None, None),
        (CoordSys.WGS84, None, None),
        ("gcj02", gcj02_to_wgs84, wgs84_to_gcj02),
        (CoordSys.GCJ02, gcj02_to_wgs84, wgs84_to_gcj02),
        ("bd09", bd09_to_wgs84, wgs84_to_bd09),
        (CoordSys.BD09, bd09_to_wgs84, wgs84_to_bd09),
    ],
)
def test_to_and_from_wgs84_dispatch(coord_sys, direct_to, direct_from):
    lat, lng = 30.25, 120.17
    assert to_wgs84(lat, lng, coord_sys) == (direct_to(lat, lng) if direct_to else (lat, lng))
    assert from_wgs84(lat, lng, coord_sys) == (direct_from(lat, lng) if direct_from else (lat, lng))


def test_wgs84_passthrough_returns_floats():
    assert to_wgs84(30, 120, "wgs84") == (30.0, 120.0)
    assert all(isinstance(v, float) for v in from_wgs84(30, 120, CoordSys.WGS84))


@pytest.mark.parametrize("bad", ["utm", "WGS-84", "", "gcj-02", None, 4326])
def test_unknown_coord_sys_rejected(bad):
    with pytest.raises(ValueError):
        to_wgs84(30.25, 120.17, bad)
    with pytest.raises(ValueError):
        from_wgs84(30.25, 120.17, bad)


def test_geo_package_imports_no_flask_or_database_code():
    # A fresh interpreter, because this test process may have loaded Flask.
    code = (
        "import sys, geo\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'geoalchemy2', 'psycopg', 'psycopg2', 'app'})\n"
        "assert not bad, bad\n"
    )
    repo_root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=repo_root, check=True)
