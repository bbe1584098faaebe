"""Commands of the torch extras explain how to install them instead of a traceback."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module, extra",
    [("uprez.trainer.cli", "train"), ("uprez.export.cli", "export")],
)
def test_torch_command_without_torch_prints_install_hint(module, extra, tmp_path):
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"")
    args = [str(checkpoint)] if extra == "export" else []
    code = (
        "import sys; sys.modules['torch'] = None; "
        f"from {module} import main; main({args!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert f'pip install "uprez[{extra}]"' in done.stderr
    assert "Traceback" not in done.stderr
