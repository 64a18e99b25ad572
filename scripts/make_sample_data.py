#!/usr/bin/env python3
"""Writes the small sample data shipped in data/sample/ (deterministic; standard library only).

train.csv: 2,000 card payments with four features. detect.csv: 200 new payments, of which a few
are planted anomalies (listed in detect_anomalies.txt by row number, counted from 1).
"""
import math
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "sample"
COLUMNS = ["amount", "hour", "items", "distance_km"]


def payment(rng: random.Random) -> list[float]:
    hour = min(23.0, max(0.0, rng.gauss(14, 3.5)))
    items = float(max(1, round(rng.gauss(3, 1.2))))
    amount = round(math.exp(rng.gauss(3.2, 0.45)) * (0.6 + 0.15 * items), 2)
    distance = round(abs(rng.gauss(6, 3)), 2)
    return [amount, round(hour, 1), items, distance]


PLANTED = {
    17: [2950.00, 3.5, 1.0, 4.1],      # huge amount at night
    58: [38.20, 13.0, 2.0, 840.0],      # far from home
    103: [22.10, 4.0, 19.0, 7.5],      # many items at 4 am
    177: [1875.50, 2.0, 14.0, 520.0],  # everything at once
}


def write(path: Path, rows: list[list[float]]) -> None:
    lines = [",".join(COLUMNS)] + [",".join(f"{v:g}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261122)
    write(OUT / "train.csv", [payment(rng) for _ in range(2000)])
    detect = [payment(rng) for _ in range(200)]
    for row, values in PLANTED.items():
        detect[row - 1] = values
    write(OUT / "detect.csv", detect)
    (OUT / "detect_anomalies.txt").write_text("\n".join(str(r) for r in sorted(PLANTED)) + "\n")


if __name__ == "__main__":
    main()
