"""Seeded synthetic benchmark data, identical to ../shared/datasets/make_datasets.py's `synth`.

Inliers: Gaussian clusters; anomalies: uniform noise over a box twice their span. Kept here so the
benchmark runs without the read-only shared folder.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SPECS = {
    # name: (rows, contamination, seed)
    "synth_10k": (10_000, 0.05, 10),
    "synth_100k": (100_000, 0.02, 100),
    "synth_1m": (1_000_000, 0.01, 1000),
}


def synth(n_rows: int, n_features: int = 16, contamination: float = 0.02,
          n_clusters: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_anom = int(round(n_rows * contamination))
    n_in = n_rows - n_anom
    centres = rng.uniform(-5.0, 5.0, size=(n_clusters, n_features))
    stds = rng.uniform(0.5, 1.5, size=(n_clusters, n_features))
    weights = rng.dirichlet(np.full(n_clusters, 2.0))
    comp = rng.choice(n_clusters, size=n_in, p=weights)
    x_in = centres[comp] + stds[comp] * rng.standard_normal((n_in, n_features))
    x_out = rng.uniform(-10.0, 10.0, size=(n_anom, n_features))
    x = np.vstack([x_in, x_out])
    y = np.concatenate([np.zeros(n_in, dtype=np.int64), np.ones(n_anom, dtype=np.int64)])
    perm = rng.permutation(n_rows)
    x = np.round(x[perm], 4)
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(n_features)])
    df["label"] = y[perm]
    return df


def write(name: str, path: str) -> None:
    rows, contamination, seed = SPECS[name]
    synth(rows, 16, contamination, 5, seed).to_csv(path, index=False, float_format="%.4f")
