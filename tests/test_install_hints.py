"""Commands of the torch extras explain how to install them instead of a traceback: from where
uprez is (a checkout or the package index), with PyTorch's CPU build first."""

import subprocess
import sys
from pathlib import Path

import pytest

from uprez.runtime.base.console import TORCH_CPU_INDEX, install_hint

CHECKOUT = Path(__file__).resolve().parents[1]


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
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    # the tests run from a checkout, where `pip install "uprez[...]"` finds nothing to install
    lines = done.stderr.splitlines()
    cpu_torch = next(i for i, line in enumerate(lines) if TORCH_CPU_INDEX in line)
    assert lines[cpu_torch].strip().startswith("pip install torch==")
    assert lines[cpu_torch + 1].strip() == f'pip install -e "{CHECKOUT}[{extra}]"'
    assert "CUDA build" in done.stderr


def test_the_hint_from_the_checkout_folder_and_from_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.chdir(CHECKOUT)
    assert 'pip install -e ".[train]"' in install_hint("train", torch=True)
    installed = tmp_path / "site-packages" / "uprez" / "runtime"  # no pyproject.toml above
    installed.mkdir(parents=True)
    hint = install_hint("train", torch=True, package_dir=installed)
    assert 'pip install "uprez[train]"' in hint and TORCH_CPU_INDEX in hint
    assert install_hint("export", torch=False, package_dir=installed) == \
        'Install it with:  pip install "uprez[export]"'
