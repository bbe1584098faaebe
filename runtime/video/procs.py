"""A running ffmpeg whose stderr is drained on a thread, so its pipes never fill and block it."""

from __future__ import annotations

import collections
import subprocess
import threading

from uprez.runtime.video.ffmpeg import Ffmpeg, clean_message


class FfmpegProcess:
    """ffmpeg with stdin or stdout piped; the last lines of its stderr are kept for messages."""

    def __init__(self, ffmpeg: Ffmpeg, args: list[str], *, stdin: bool = False,
                 stdout: bool = False):
        self._stderr_head: list[str] = []
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.process = ffmpeg.popen(
            ["-v", "error", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, bufsize=0,
        )
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                if len(self._stderr_head) < 5:
                    self._stderr_head.append(line)
                self._stderr_tail.append(line)

    def wait(self) -> int:
        code = self.process.wait()
        self._drain.join(timeout=5)
        return code

    def messages(self) -> list[str]:
        """ffmpeg's error lines (stderr is at level `error`), the latest last."""
        if self.process.poll() is not None:
            self._drain.join(timeout=5)
        return list(self._stderr_tail)

    def first_message(self) -> str:
        """ffmpeg's first error line: the cause; later lines are mostly its consequences."""
        self.messages()
        return clean_message(self._stderr_head[0]) if self._stderr_head else \
            "no message from ffmpeg"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
