"""Extract the simplified mainland-China boundary that ``geo.coords`` decides GCJ-02 with (run once, by hand).

Source: Natural Earth 1:10m Admin 0 countries (public domain), as the TopoJSON that the npm package
``world-atlas@2.0.2`` ships (ISC; Natural Earth 4.1.0)::

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    .venv/bin/python scripts/extract_china_boundary.py package/countries-10m.json

writes ``geo/data/china_mainland.geojson``. Natural Earth's admin-0 *countries* layer already keeps Hong Kong
(ISO 344), Macao (446) and Taiwan (158) apart from China (156); those three use WGS84 on Chinese map SDKs, so
only feature 156 is taken. TopoJSON decoding is a dozen lines (delta-decoded, quantized arcs), written here
rather than adding a package for a one-off script.

Simplification: ``TOLERANCE_DEG`` keeps the border within a few hundred metres of Natural Earth's line (which is
itself quantized to ~0.0036 x 0.0017 degrees in this file); islands smaller than ``MIN_ISLAND_KM2`` are dropped,
since nobody checks in there and they only add vertices.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

CHINA_ISO_NUMERIC = "156"
TOLERANCE_DEG = 0.004
# one square degree is ~10,000 km2 at these latitudes; a rough filter is all that is needed
MIN_ISLAND_KM2 = 3.0
# ~10 km out to sea
COAST_MARGIN_DEG = 0.1
OUT = Path(__file__).resolve().parent.parent / "geo" / "data" / "china_mainland.geojson"


def _decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    scale_x, scale_y = topology["transform"]["scale"]
    translate_x, translate_y = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * scale_x + translate_x, y * scale_y + translate_y))
        arcs.append(points)
    return arcs


def _ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indexes:
        # a negative index ~i is arc i reversed; consecutive arcs share their end point
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc if not points else arc[1:])
    return points


def _country(arcs: list[list[tuple[float, float]]], geometry: dict) -> BaseGeometry:
    rings_of = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    polygons = []
    for rings in rings_of:
        shell, *holes = (_ring(arcs, ring) for ring in rings)
        if len(shell) >= 4:  # quantization collapses the tiniest islets to a point or a line
            polygons.append(Polygon(shell, [hole for hole in holes if len(hole) >= 4]))
    return unary_union([p if p.is_valid else p.buffer(0) for p in polygons])


def china_polygon(topology: dict) -> MultiPolygon:
    arcs = _decode_arcs(topology)
    countries = [g for g in topology["objects"]["countries"]["geometries"] if g.get("arcs")]
    (china,) = [_country(arcs, g) for g in countries if g.get("id") == CHINA_ISO_NUMERIC]
    kept = unary_union([p for p in getattr(china, "geoms", [china]) if p.area * 10_000 >= MIN_ISLAND_KM2])
    # The sea side is widened (a pier, a harbour, an island hotel a coarse coastline misses is still China);
    # land borders stay Natural Earth's, because every neighbour, Hong Kong and Macao included, is cut out again.
    widened = kept.buffer(COAST_MARGIN_DEG)
    area = widened.envelope
    others = (_country(arcs, g) for g in countries if g.get("id") != CHINA_ISO_NUMERIC)
    near = unary_union([country.intersection(area) for country in others if country.intersects(area)])
    shape = widened.difference(near).simplify(TOLERANCE_DEG, preserve_topology=True)
    parts = [shape] if isinstance(shape, Polygon) else [g for g in shape.geoms if isinstance(g, Polygon)]
    return MultiPolygon([p for p in parts if p.area * 10_000 >= MIN_ISLAND_KM2])


def main(source: str) -> None:
    shape = china_polygon(json.loads(Path(source).read_text()))
    rounded = json.loads(json.dumps(mapping(shape)), parse_float=lambda s: round(float(s), 4))
    feature = {
        "type": "Feature",
        "properties": {
            "name": "China (mainland; without Hong Kong, Macao, Taiwan)",
            "source": "Natural Earth 1:10m Admin 0 countries v4.1.0 (public domain), via npm world-atlas@2.0.2",
            "simplified_tolerance_deg": TOLERANCE_DEG,
        },
        "geometry": rounded,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, separators=(",", ":")) + "\n")
    vertices = sum(len(p.exterior.coords) + sum(len(h.coords) for h in p.interiors) for p in shape.geoms)
    print(f"{OUT}: {len(shape.geoms)} polygons, {vertices} vertices, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
