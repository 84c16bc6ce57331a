"""The tour's peak memory (Linux): the ImageNet table's models (VGG-16: 138 M weights) no longer hold 1.7 GB."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files

import pytest

LIMIT_MB = 600


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak from Linux's /proc")
def test_tour_peak_memory_stays_under_600_mb(tmp_path):
    pretrained = files("cnnlab.data") / "pretrained" / "lenet5"
    # VmHWM: this process image's own peak (getrusage's ru_maxrss would include the forking pytest's)
    code = ("import sys; from cnnlab.viz.tour import tour; "
            "hwm = lambda: int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]); "
            "peak = lambda line: print(hwm() // 1024, line, file=sys.stderr); "
            f"tour(sys.argv[1], checkpoint={str(pretrained)!r}, digits=100, lang='ko', progress=peak); print(hwm())")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tour")], capture_output=True, text=True,
                       timeout=1200, env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    assert r.returncode == 0, r.stderr[-2000:]
    peak = int(r.stdout.split()[-1])
    assert peak > 50 * 1024 and (tmp_path / "tour" / "index.html").is_file()
    assert peak / 1024 <= LIMIT_MB, f"the tour peaked at {peak / 1024:.0f} MB; MB after each part:\n{r.stderr}"
