"""The encoder under atheris, coverage-guided (tests/fuzz/encoder_atheris.py), bounded for CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Bounded in count and time: a few seconds of fuzzing in every run of the suite.
RUNS = 100_000
SECONDS = 60


def test_atheris_finds_nothing_the_encoder_does_not_refuse_cleanly(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.encoder_atheris",
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            f"-artifact_prefix={tmp_path}/",
            "-seed=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=False,
    )
    log = done.stderr[-4000:]
    assert done.returncode == 0, log
    ran = re.search(r"Done (\d+) runs", done.stderr)
    assert ran is not None, log
    # Either every run was made, or the time bound ended it after a real amount of fuzzing.
    assert int(ran.group(1)) >= 5_000, log
    assert not list(tmp_path.iterdir()), "libFuzzer saved a crashing input"
