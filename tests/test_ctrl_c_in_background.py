"""The Ctrl-C tests hold when the suite itself was started with SIGINT ignored, as a
background job (`nohup python -m pytest &`) is."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CTRL_C_TESTS = [  # one in the test process, one that signals a child process
    "tests/trainer/test_downscale.py::"
    "test_ctrl_c_stops_sr_downscale_before_the_next_image_with_exit_130",
    "tests/runtime/test_video_reliability.py::"
    "test_a_real_sigint_stops_ffmpeg_and_leaves_no_half_file",
]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal dispositions")
def test_ctrl_c_tests_pass_in_a_suite_started_with_sigint_ignored():
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *CTRL_C_TESTS], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, preexec_fn=_ignore_sigint)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "2 passed" in run.stdout
