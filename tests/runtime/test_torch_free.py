"""The runtime must import and work on machines without PyTorch."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import uprez.runtime


def runtime_module_names() -> list[str]:
    names = ["uprez.runtime"]
    for module in pkgutil.walk_packages(uprez.runtime.__path__, prefix="uprez.runtime."):
        names.append(module.name)
    return names


def test_every_runtime_module_imports_with_torch_blocked():
    names = runtime_module_names()
    assert "uprez.runtime.cli" in names
    code = textwrap.dedent(
        f"""
        import sys
        for blocked in ("torch", "torchvision", "onnx", "uprez.trainer", "uprez.export"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        import importlib
        for name in {names!r}:
            importlib.import_module(name)
        assert "torch" not in [m for m, v in sys.modules.items() if v is not None]
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_sr_run_help_works_with_torch_blocked():
    code = (
        "import sys; sys.modules['torch'] = None; "
        "from uprez.runtime.cli import main; main(['--help'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout


def test_runtime_modules_are_importable_here():
    for name in runtime_module_names():
        importlib.import_module(name)


def _ruff():
    import shutil

    return shutil.which("ruff")


def test_static_contract_bans_torch_in_runtime_sources():
    import pathlib

    import pytest

    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is a dev tool; the import test above covers the runtime-only install")
    repo = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run([ruff, "check", "--no-cache", "runtime"], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_static_contract_catches_a_torch_import(tmp_path):
    import pathlib
    import shutil

    import pytest

    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is a dev tool")
    repo = pathlib.Path(__file__).resolve().parents[2]
    shutil.copy(repo / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "runtime").mkdir()
    shutil.copy(repo / "runtime" / "ruff.toml", tmp_path / "runtime" / "ruff.toml")
    (tmp_path / "runtime" / "sneaky.py").write_text("from torch import nn\n")
    done = subprocess.run([ruff, "check", "--no-cache", "runtime"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "TID251" in done.stdout


def test_sr_run_help_loads_no_heavy_module():
    # `sr-run --help` must be instant: onnxruntime, OpenCV and numpy load inside the command
    code = (
        "import sys\n"
        "from uprez.runtime.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('onnxruntime', 'cv2', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _uprez_imports(package: str) -> dict[str, set[str]]:
    """The uprez modules each module of `package` imports (anywhere in it, lazily included)."""
    import ast
    import pathlib

    module = importlib.import_module(package)
    found = {}
    for path in sorted(pathlib.Path(module.__file__).parent.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                raise AssertionError(f"{path}: relative import; the runtime spells them out")
        found[path.name] = {name for name in names if name.startswith("uprez.")}
    return found


def _outside(imports: dict[str, set[str]], allowed: tuple[str, ...]) -> dict[str, set[str]]:
    return {file: {n for n in names if not n.startswith(allowed)}
            for file, names in imports.items() if any(not n.startswith(allowed) for n in names)}


def test_the_video_pipeline_imports_nothing_above_itself():
    # the model reaches it as a frame function; planning, the Upscaler and the batch report
    # live above it (uprez.runtime.video_jobs connects them)
    imports = _uprez_imports("uprez.runtime.video")
    assert "pipeline.py" in imports
    allowed = ("uprez.runtime.video.", "uprez.runtime.base.")
    assert _outside(imports, allowed) == {}


def test_the_animation_package_imports_only_itself_the_base_and_video():
    # the Upscaler, planning and the batch report reach it through uprez.runtime.animation_jobs
    imports = _uprez_imports("uprez.runtime.animation")
    assert "frames.py" in imports
    allowed = ("uprez.runtime.animation.", "uprez.runtime.base.", "uprez.runtime.video.")
    assert _outside(imports, allowed) == {}


def test_the_base_imports_no_other_part_of_uprez():
    imports = _uprez_imports("uprez.runtime.base")
    assert "console.py" in imports
    assert _outside(imports, ("uprez.runtime.base.",)) == {}
