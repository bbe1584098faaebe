"""--device and --precision as users meet them in sr-run and sr-eval: the messages, the exit
codes, and a terminal without library-loading noise."""

import json
import subprocess
import sys

import pytest

from tests.runtime.helpers import noise
from uprez.runtime.base.imageio import write_image


def run_command(module: str, args: list,
                block: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, with the named modules made unimportable."""
    code = ("import sys\n"
            f"for name in {block!r}: sys.modules[name] = None\n"
            f"from {module} import main\n"
            f"main({[str(a) for a in args]!r})\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.fixture
def photo_dir(tmp_path, rng):
    folder = tmp_path / "in"
    write_image(folder / "a.png", noise(rng, (24, 20, 3)))
    return folder


def test_openvino_without_the_extra_is_a_usage_error_with_the_install_command(
        photo_dir, tmp_path, models):
    done = run_command("uprez.runtime.cli", [photo_dir, "-o", tmp_path / "out", "-m",
                                             models["x2"], "--device", "openvino"],
                       block=("openvino",))
    assert done.returncode == 2
    assert 'pip install "uprez[openvino]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_sr_eval_takes_the_same_device_and_precision_and_names_them(tmp_path, rng):
    pytest.importorskip("openvino", reason="OpenVINO is the uprez[openvino] extra, not "
                        "installed in this venv")
    data = tmp_path / "hr"
    write_image(data / "a.png", noise(rng, (32, 36, 3)))
    done = run_command("uprez.runtime.evaluation.cli", ["--data", data, "--scale", "4", "--device",
                                                  "openvino", "--precision", "fp32", "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["device"] == "OpenVINO CPU fp32"


@pytest.mark.parametrize("module", ["uprez.runtime.cli", "uprez.runtime.evaluation.cli"])
def test_an_unknown_precision_is_a_usage_error(module, tmp_path):
    done = run_command(module, ["--precision", "fp8", "--data", tmp_path] if "eval" in module
                       else [tmp_path, "--precision", "fp8"])
    assert done.returncode == 2 and "fp8" in done.stderr
