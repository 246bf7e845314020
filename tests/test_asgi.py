"""The ASGI entry point as a server process loads it."""

import subprocess
import sys
from pathlib import Path


def test_what_the_entry_point_loads_is_kept_out_of_the_collectors_passes():
    probe = "import gc; import config.asgi; print(gc.get_freeze_count())"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 10_000  # Django and the apps, not a handful
