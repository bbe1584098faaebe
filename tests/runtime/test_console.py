"""Messages from worker threads while the main thread is still setting up a progress bar."""

import sys
import types

from uprez.runtime.base import console


def test_a_message_while_tqdm_is_half_imported_is_printed(monkeypatch, capsys):
    # another thread is inside `import tqdm`: the module exists, its class not yet
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    console.error("img.png: empty file (0 bytes)")
    assert "img.png: empty file (0 bytes)" in capsys.readouterr().err
