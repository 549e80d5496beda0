"""What deciding "mainland China or not" with the boundary polygon costs per coordinate conversion.

Points: 100,000 uniform in the crude GCJ-02 box (the worst case: every one reaches the polygon test) and the
same number in Hangzhou (the usual case). Baseline in the same run: the box test alone, and the GCJ-02
formula without any test. Prints microseconds per call and the ratio of ``wgs84_to_gcj02`` with the polygon
against the formula alone.

    .venv/bin/python -m bench.geo_border [--points N]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from geo import coords


def _per_call_us(function: Callable[[float, float], object], points: list[tuple[float, float]]) -> float:
    started = time.perf_counter()
    for lat, lng in points:
        function(lat, lng)
    return (time.perf_counter() - started) / len(points) * 1e6


def _formula_only(lat: float, lng: float) -> tuple[float, float]:
    # wgs84_to_gcj02 minus its out-of-China test: the conversion's own cost
    dlat = coords._gcj02_offset_lat(lng - 105.0, lat - 35.0)
    dlng = coords._gcj02_offset_lng(lng - 105.0, lat - 35.0)
    return lat + dlat, lng + dlng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    box = [(rng.uniform(0.8293, 55.8271), rng.uniform(72.004, 137.8347)) for _ in range(args.points)]
    hangzhou = [(rng.uniform(30.2, 30.3), rng.uniform(120.1, 120.2)) for _ in range(args.points)]
    inside = sum(not coords.out_of_china(lat, lng) for lat, lng in box) / len(box)
    print(f"{args.points:,} points; {inside:.0%} of the uniform box points are mainland China")
    for name, points in (("uniform in box", box), ("Hangzhou", hangzhou)):
        box_us = _per_call_us(coords.in_china_box, points)
        decide_us = _per_call_us(coords.out_of_china, points)
        formula_us = _per_call_us(_formula_only, points)
        convert_us = _per_call_us(coords.wgs84_to_gcj02, points)
        inverse_us = _per_call_us(coords.gcj02_to_wgs84, points)
        print(
            f"{name:>15}: box {box_us:.2f} us, box+polygon {decide_us:.2f} us, formula {formula_us:.2f} us, "
            f"wgs84_to_gcj02 {convert_us:.2f} us ({convert_us / formula_us:.2f}x formula), "
            f"gcj02_to_wgs84 {inverse_us:.2f} us"
        )


if __name__ == "__main__":
    main()
