"""Reports of the catalog comparison and the resolved-calibrator test: PNG plots, JSON, HTML.

Both are directory products written atomically (:func:`vlassdask.io.atomic.atomic_output`):

* comparison: ``summary.json``, ``matched.csv``, per group (``overall`` and each tile) a
  scatter/histogram PNG per quantity (B against A with the 1:1 line; the histogram of B - A with
  the fitted Gaussian, mean and sigma annotated, as Memo 19 figures 7-10), ``total_over_peak.png``
  and ``index.html`` with the table of fitted means and sigmas;
* calibrator test: ``calibrator.json``, ``bins.csv``, ``amplitude_vs_uvdist.png`` (fractional
  deviation with the +/-3% band and the 35-90 klambda range shaded) and ``index.html``.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vlassdask.catalog.calibrator import CalibratorCheck
from vlassdask.catalog.compare import CatalogComparison
from vlassdask.io.atomic import atomic_output
from vlassdask.io.qa_report import _page, _table

_LOCK = threading.Lock()  # matplotlib is not thread-safe
_UNITS = {"Total_flux": "mJy", "Peak_flux": "mJy/beam", "Alpha": ""}


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name) or "group"


def _quantity_png(comparison: CatalogComparison, group: str, quantity: str, path: Path) -> None:
    rows = comparison.matched if group == "overall" else comparison.matched[
        comparison.matched["group"] == group]
    fit = comparison.fits[group].get(quantity)
    unit = _UNITS.get(quantity, "")
    with _LOCK:
        fig = Figure(figsize=(5.0, 7.0))
        top, bottom = fig.subplots(2, 1)
        a, b = rows[f"{quantity}_a"], rows[f"{quantity}_b"]
        top.scatter(a, b, s=4)
        lo, hi = np.nanmin([a.min(), b.min()]), np.nanmax([a.max(), b.max()])
        top.plot([lo, hi], [lo, hi], "--", color="tab:blue", lw=1)
        if quantity != "Alpha" and lo > 0:
            top.set_xscale("log")
            top.set_yscale("log")
        top.set_xlabel(f"{quantity} A {unit}")
        top.set_ylabel(f"{quantity} B {unit}")
        top.set_title(f"{group}: {len(rows)} matched")
        if fit is not None:
            bottom.stairs(fit.counts, fit.edges)
            if fit.sigma > 0:
                x = np.linspace(fit.edges[0], fit.edges[-1], 200)
                bottom.plot(x, fit.counts.max() * np.exp(-0.5 * ((x - fit.mean) / fit.sigma)
                                                         ** 2), color="tab:orange")
            bottom.text(0.02, 0.95, f"mean {fit.mean:.4g}\nsigma {fit.sigma:.4g}",
                        transform=bottom.transAxes, va="top")
        bottom.set_xlabel(f"{quantity} B - A {unit}")
        bottom.set_ylabel("components")
        fig.tight_layout()
        _save(fig, path)


def _ratio_png(comparison: CatalogComparison, path: Path) -> None:
    with _LOCK:
        fig = Figure(figsize=(5.0, 3.5))
        ax = fig.subplots()
        for side in ("a", "b"):
            values = comparison.matched[f"ratio_{side}"].to_numpy()
            values = values[np.isfinite(values)]
            if values.size:
                ax.hist(values, bins=40, histtype="step", label=side.upper())
        ax.set_xlabel("Total_flux / Peak_flux")
        ax.legend()
        fig.tight_layout()
        _save(fig, path)


def write_comparison_report(comparison: CatalogComparison, out: str | os.PathLike, *,
                            names: tuple[str, str], overwrite: bool = False) -> Path:  # fmt: skip
    """Write the comparison report directory ``out`` (module docstring)."""
    rows, sections = [], []
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        summary = comparison.summary()
        summary["catalogs"] = {"a": names[0], "b": names[1]}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        comparison.matched.to_csv(tmp / "matched.csv", index=False)
        _ratio_png(comparison, tmp / "total_over_peak.png")
        for group, fits in comparison.fits.items():
            images = []
            for quantity in comparison.quantities:
                if quantity not in fits:
                    continue
                fit = fits[quantity]
                rows.append([group, quantity, fit.n, fit.mean, fit.e_mean, fit.sigma,
                             fit.e_sigma])
                png = f"{_safe(group)}_{quantity}.png"
                _quantity_png(comparison, group, quantity, tmp / png)
                images.append(f'<img src="{html.escape(png)}" alt="{html.escape(quantity)}">')
            sections.append(f"<h2>{html.escape(group)}</h2>{''.join(images)}")
        body = (f"<h1>Catalog comparison</h1><p>A: {html.escape(names[0])}<br>B: "
                f"{html.escape(names[1])}<br>{comparison.n_a} and {comparison.n_b} components, "
                f"{len(comparison.matched)} matched within {summary['match_radius_arcsec']}"
                "\"</p>"
                + _table(["group", "quantity", "n", "mean (B-A)", "error", "sigma", "error"],
                         rows)
                + '<h2>Total / peak</h2><img src="total_over_peak.png" alt="total over peak">'
                + "".join(sections))  # fmt: skip
        (tmp / "index.html").write_text(_page("vlassdask catalog comparison", body))
    return Path(out)


def write_calibrator_report(check: CalibratorCheck, out: str | os.PathLike, *, ms: str,
                            overwrite: bool = False) -> Path:  # fmt: skip
    """Write the resolved-calibrator report directory ``out`` (module docstring)."""
    summary = {**check.summary(), "ms": ms}
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        (tmp / "calibrator.json").write_text(json.dumps(summary, indent=2))
        check.bins.to_csv(tmp / "bins.csv", index=False)
        with _LOCK:
            fig = Figure(figsize=(6.0, 3.8))
            ax = fig.subplots()
            lo, hi = summary["model_range_klambda"]
            ax.axvspan(lo, hi, color="0.9", label="35-90 klambda")
            ax.axhspan(-100 * check.summary()["tolerance"], 100 * check.summary()["tolerance"],
                       color="tab:green", alpha=0.15, label="+/-3%")
            bins = check.bins
            ax.plot(bins["uv_mid"], 100 * bins["deviation"], "o-", ms=3)
            flagged = bins[bins["flagged"]]
            ax.plot(flagged["uv_mid"], 100 * flagged["deviation"], "o", color="tab:red",
                    label="flagged")
            ax.set_xlabel("uv distance (klambda)")
            ax.set_ylabel("deviation from point source (%)")
            ax.set_title(f"{check.field}: {check.verdict}")
            ax.legend(fontsize=8)
            fig.tight_layout()
            _save(fig, tmp / "amplitude_vs_uvdist.png")
        rows = [[r.uv_lo, r.uv_hi, r.n, r.amplitude, 100 * r.deviation, r.flagged]
                for r in check.bins.itertuples()]
        body = (f"<h1>Resolved-calibrator test: {html.escape(check.field)}</h1>"
                f"<p>{html.escape(ms)}<br><b>{html.escape(check.verdict)}</b>: "
                f"{html.escape(summary['meaning'])}<br>point-source amplitude "
                f"{check.point_amplitude:.4g} Jy</p>"
                '<img src="amplitude_vs_uvdist.png" alt="amplitude vs uv distance">'
                + _table(["uv from (klambda)", "to", "n", "amplitude (Jy)", "deviation (%)",
                          "flagged"], rows))  # fmt: skip
        (tmp / "index.html").write_text(_page("vlassdask calibrator check", body))
    return Path(out)
