"""Writes crates/mosaic/tests/fixtures/cca.json: two views and their canonical correlations
computed by statsmodels (`statsmodels.multivariate.cancorr.CanCorr`, QR + SVD), the
independent reference for mosaic's CCA (`mosaic::coordinated::cca`).

    python scripts/make_cca_fixture.py   # needs numpy and statsmodels

The views are 60 examples of 5 and 3 columns: three latent signals of decreasing strength
shared by both views, plus independent noise, so that every canonical correlation is
distinct and between 0 and 1.
"""

import json
import pathlib

import numpy as np
import statsmodels
from statsmodels.multivariate.cancorr import CanCorr


def main():
    rng = np.random.RandomState(11)
    n = 60
    latent = rng.randn(n, 3) * np.array([1.0, 0.6, 0.3])
    x = latent @ rng.randn(3, 5) + 0.5 * rng.randn(n, 5)
    y = latent @ rng.randn(3, 3) + 0.5 * rng.randn(n, 3)
    x, y = np.round(x, 6), np.round(y, 6)
    reference = CanCorr(y, x)
    out = {
        "source": f"statsmodels {statsmodels.__version__} CanCorr(endog=y, exog=x).cancorr",
        "n": n,
        "x": x.ravel().tolist(),
        "x_cols": 5,
        "y": y.ravel().tolist(),
        "y_cols": 3,
        "correlations": sorted(reference.cancorr.tolist(), reverse=True),
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "crates/mosaic/tests/fixtures/cca.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(path, out["correlations"])


if __name__ == "__main__":
    main()
