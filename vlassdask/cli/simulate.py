"""``vlassdask simulate``: write a simulated VLASS Measurement Set."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from vlassdask.cli.common import (
    ClusterOption,
    OverwriteOption,
    SchedulerOption,
    console,
    parse_spw_selection,
    run_on_scheduler,
)
from vlassdask.errors import ConfigError, InputError
from vlassdask.io.config_files import load_sky_model, read_simulation_file
from vlassdask.products.simulation import simulate_observation
from vlassdask.simulate.config import from_dict
from vlassdask.simulate.sky import random_sky, sky_from_records

_HELP = """Simulate a VLASS observation (VLA B configuration, 2-4 GHz, RR/RL/LR/LL or, with
--feeds linear, XX/XY/YX/YY) and write it as a Measurement Set. Visibilities are exact direct
Fourier sums (w-term and VLA primary beam included) of a sky model, plus seeded thermal noise and
flags (per-window rules: flag_spws in the --config file). Options override the --config file,
which overrides the defaults. Runs on dask's threaded scheduler unless --scheduler or --cluster
says otherwise. See docs/simulate.md."""


def parse_hour_angle(text: str) -> float:
    """Hour angle in hours from ``-1.0h``, ``-1.0`` (hours), ``15deg`` or ``-0h30m``.

    Raises
    ------
    InputError
        If the text is not an hour angle.
    """
    value = text.strip().lower()
    match = re.fullmatch(r"([+-]?)(\d+(?:\.\d*)?)h(?:(\d+(?:\.\d*)?)m)?", value)
    if match:
        sign = -1.0 if match.group(1) == "-" else 1.0
        return sign * (float(match.group(2)) + float(match.group(3) or 0.0) / 60.0)
    try:
        if value.endswith("deg"):
            return float(value[:-3]) / 15.0
        return float(value)
    except ValueError:
        raise InputError(f"--hour-angle {text!r}: use e.g. -1.0h, -0h30m, -15deg") from None


def _pair(text: str, sep: str, option: str) -> list[str]:
    parts = text.split(sep)
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError(f"{option} {text!r}: expected two values separated by {sep!r}")
    return [p.strip() for p in parts]


def _overrides(options: dict[str, Any]) -> dict[str, Any]:
    """Config keys given on the command line (None = not given)."""
    values = {key: value for key, value in options.items() if value is not None}
    if "hour_angle_h" in values:
        values["hour_angle_h"] = parse_hour_angle(values["hour_angle_h"])
    if "spw_ids" in values:
        values["spw_ids"] = parse_spw_selection(values["spw_ids"])
    if "antennas" in values:
        values["antennas"] = [a.strip() for a in values["antennas"].split(",") if a.strip()]
    if "noise_sigma_jy" in values:
        text = values["noise_sigma_jy"].strip().lower()
        try:
            values["noise_sigma_jy"] = None if text == "auto" else float(text)
        except ValueError:
            raise InputError(f"--noise {text!r}: a number of Jy or 'auto'") from None
    if values.get("flag_time_ranges_s"):
        ranges = [_pair(t, ":", "--flag-time") for t in values["flag_time_ranges_s"]]
        try:
            values["flag_time_ranges_s"] = [[float(a), float(b)] for a, b in ranges]
        except ValueError:
            raise InputError("--flag-time: use START:END in seconds, e.g. 10:20") from None
    else:
        values.pop("flag_time_ranges_s", None)
    if values.get("flag_baselines"):
        values["flag_baselines"] = [
            _pair(b, "-", "--flag-baseline") for b in values["flag_baselines"]
        ]
    else:
        values.pop("flag_baselines", None)
    return values


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate", help=_HELP)
    def simulate(
        out: Annotated[Path, typer.Option("--out", help="Output Measurement Set directory.")],
        config: Annotated[
            Path | None,
            typer.Option("--config", help="Simulation YAML (e.g. pipelines/simulate_small.yaml)."),
        ] = None,
        sky: Annotated[
            Path | None,
            typer.Option(
                "--sky",
                help="Sky model table, CSV or YAML (columns in docs/simulate.md). Default: the "
                "config file's sky: section, else a random sky (--random-sources).",
            ),
        ] = None,
        random_sources: Annotated[
            int,
            typer.Option(
                "--random-sources",
                help="Sources of the seeded random sky used when no sky model is given.",
            ),
        ] = 10,
        random_radius: Annotated[
            float,
            typer.Option("--random-radius", help="Radius (deg) of the random sky."),
        ] = 0.15,
        ra: Annotated[
            float | None, typer.Option("--ra", help="Phase/raster centre RA (ICRS, deg).")
        ] = None,
        dec: Annotated[
            float | None, typer.Option("--dec", help="Phase/raster centre Dec (ICRS, deg).")
        ] = None,
        date: Annotated[
            str | None,
            typer.Option("--date", help="UTC date YYYY-MM-DD used with --hour-angle."),
        ] = None,
        hour_angle: Annotated[
            str | None,
            typer.Option(
                "--hour-angle",
                help="Hour angle at the start (e.g. -1.0h, -0h30m, -15deg): the start is the "
                "first UTC time on --date at which the centre has this hour angle at the VLA.",
            ),
        ] = None,
        start_utc: Annotated[
            str | None,
            typer.Option("--start-utc", help="Start as ISO UTC time; overrides --hour-angle."),
        ] = None,
        duration: Annotated[
            float | None, typer.Option("--duration", help="Total observing time, seconds.")
        ] = None,
        integration: Annotated[
            float | None, typer.Option("--integration", help="Integration time, s (0.45).")
        ] = None,
        nchan: Annotated[
            int | None, typer.Option("--nchan", help="Channels per 128 MHz spectral window.")
        ] = None,
        spw: Annotated[
            str | None,
            typer.Option("--spw", help="Spectral windows 0-15 (1.965-4.013 GHz), e.g. 0,3,5-7."),
        ] = None,
        mode: Annotated[
            str | None,
            typer.Option("--mode", help="single (pointed field) or otf (on-the-fly raster)."),
        ] = None,
        otf_rows: Annotated[
            int | None, typer.Option("--otf-rows", help="OTF raster rows (7.2' apart).")
        ] = None,
        antennas: Annotated[
            str | None,
            typer.Option("--antennas", help="Comma-separated antenna names/stations (all 27)."),
        ] = None,
        noise: Annotated[
            str | None,
            typer.Option(
                "--noise",
                help="Noise sigma per real/imaginary part of a visibility, Jy; 0 = noiseless, "
                "'auto' = radiometer equation (SEFD 370 Jy).",
            ),
        ] = None,
        flag_fraction: Annotated[
            float | None,
            typer.Option("--flag-fraction", help="Fraction of samples flagged at random."),
        ] = None,
        flag_time: Annotated[
            list[str] | None,
            typer.Option("--flag-time", help="Flag START:END seconds from the start (repeat)."),
        ] = None,
        flag_baseline: Annotated[
            list[str] | None,
            typer.Option("--flag-baseline", help="Flag a baseline, e.g. ea01-ea02 (repeat)."),
        ] = None,
        feeds: Annotated[
            str | None,
            typer.Option(
                "--feeds",
                help="circular (RR, RL, LR, LL; VLASS) or linear (XX, XY, YX, YY of the same sky).",
            ),
        ] = None,
        correlations: Annotated[
            str | None,
            typer.Option(
                "--correlations",
                help="all four correlations, or parallel hands only (RR, LL or XX, YY).",
            ),
        ] = None,
        weight_spectrum: Annotated[
            bool | None,
            typer.Option(
                "--weight-spectrum/--no-weight-spectrum",
                help="Write WEIGHT_SPECTRUM and SIGMA_SPECTRUM.",
            ),
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
        rows_per_chunk: Annotated[
            int | None,
            typer.Option("--rows-per-chunk", help="Rows per dask chunk (bounds memory)."),
        ] = None,
        overwrite: OverwriteOption = False,
        scheduler: SchedulerOption = None,
        cluster: ClusterOption = None,
    ) -> None:
        file_values = read_simulation_file(config) if config else {"simulate": {}, "sky": None}
        options = {
            "ra_deg": ra,
            "dec_deg": dec,
            "date": date,
            "hour_angle_h": hour_angle,
            "start_utc": start_utc,
            "duration_s": duration,
            "integration_s": integration,
            "nchan_per_spw": nchan,
            "spw_ids": spw,
            "mode": mode,
            "otf_rows": otf_rows,
            "antennas": antennas,
            "noise_sigma_jy": noise,
            "flag_fraction": flag_fraction,
            "flag_time_ranges_s": flag_time,
            "flag_baselines": flag_baseline,
            "feeds": feeds,
            "correlations": correlations,
            "weight_spectrum": weight_spectrum,
            "seed": seed,
            "rows_per_chunk": rows_per_chunk,
        }
        sim_config = from_dict({**file_values["simulate"], **_overrides(options)})
        if sky is not None:
            sky_model = load_sky_model(sky)
        elif file_values["sky"] is not None:
            sky_model = sky_from_records(file_values["sky"], f"sky: section of {config}")
        else:
            if random_sources < 1 or random_radius <= 0:
                raise ConfigError("--random-sources must be >= 1 and --random-radius > 0")
            sky_model = random_sky(
                random_sources,
                ra_deg=sim_config.ra_deg,
                dec_deg=sim_config.dec_deg,
                radius_deg=random_radius,
                seed=sim_config.seed,
            )
        started = time.perf_counter()
        with run_on_scheduler(scheduler, cluster, default="threads"):
            with console.status(f"simulating {len(sky_model)} sources into {out}"):
                path = simulate_observation(sim_config, sky_model, out, overwrite=overwrite)
        console.print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
