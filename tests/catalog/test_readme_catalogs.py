"""The README's "Source catalogs" block runs as written in a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_readme_catalog_block_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Source catalogs")
    block = re.compile(r"```bash\n(.*?)```", re.S).search(readme, start).group(1)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for made in ("cat.parquet", "cat.fits", "cat.csv", "survey.parquet", "dragns.parquet",
                 "matched.parquet", "compare/index.html", "calcheck/index.html"):
        assert (tmp_path / made).exists(), made
    assert len(pd.read_parquet(tmp_path / "cat.parquet")) > 150
