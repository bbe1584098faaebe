"""A real two-node Ray cluster on 127.0.0.1 for the `sr-run --cluster` tests: a head node and a
second `ray start --address` node, each a `ray start --block` process in its own session, so a
node can be killed whole (SIGKILL to its process group: raylet, agents; its workers exit when
their raylet dies) and started again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 180
CPUS_PER_NODE = 1  # one worker slot each: one on the head, one on the node that gets killed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RayCluster:
    def __init__(self, head_cpus: int = CPUS_PER_NODE):
        # short: Ray's unix sockets live below it, and their paths may not exceed 107 bytes
        self.temp_dir = Path(tempfile.mkdtemp(prefix="uprez-ray-", dir="/tmp"))
        # A `ray.init()` cluster (sr-run --cluster local) leaves ~/.ray/auth_token behind, which
        # nodes started by `ray start` and their drivers then disagree about: this cluster and
        # the drivers of this process run without token authentication, whatever is in ~/.ray
        os.environ["RAY_AUTH_MODE"] = "disabled"
        self.address = f"127.0.0.1:{_free_port()}"
        self.head = self.worker = None
        self.extra: list[subprocess.Popen] = []  # more worker nodes (benchmarks)
        try:
            self.head = self._start_retried("--head", f"--port={self.address.split(':')[1]}",
                                            "--include-dashboard=false", cpus=head_cpus)
            self.start_worker_node()
        except BaseException:
            self.stop()
            raise

    def _start_retried(self, *args: str, cpus: int = CPUS_PER_NODE) -> subprocess.Popen:
        """Ray gives a node's agents 15 s to start (not configurable), which a machine busy
        with other work can miss: one more try before the failure is real."""
        try:
            return self._start(*args, cpus=cpus)
        except RuntimeError:
            return self._start(*args, cpus=cpus)

    def _ray(self) -> str:
        return str(Path(sys.executable).with_name("ray"))

    def _start(self, *args: str, cpus: int) -> subprocess.Popen:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        process = subprocess.Popen(
            [self._ray(), "start", *args, "--block", "--node-ip-address=127.0.0.1",
             f"--num-cpus={cpus}", "--num-gpus=0", "--disable-usage-stats",
             "--include-log-monitor=false", f"--temp-dir={self.temp_dir}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True)
        lines = []
        deadline = time.monotonic() + START_TIMEOUT_S
        for line in process.stdout:  # --block keeps it running once the node is up
            lines.append(line)
            if "Ray runtime started" in line:
                return process
            if time.monotonic() > deadline:
                break
        self._kill(process)
        raise RuntimeError("ray start failed:\n" + "".join(lines[-20:]) + self._raylet_error())

    def _raylet_error(self) -> str:
        logs = sorted(self.temp_dir.glob("session_*/logs/raylet*.err"))
        text = "".join(path.read_text(errors="replace") for path in logs)
        return "\n".join(line for line in text.splitlines() if "Check failed" in line)[:2000]

    def start_worker_node(self, *, extra: bool = False) -> subprocess.Popen:
        """The second node (again, after `kill_worker_node`), or with `extra` one more."""
        node = self._start_retried(f"--address={self.address}")
        if extra:
            self.extra.append(node)
        else:
            self.worker = node
        return node

    def kill_worker_node(self) -> None:
        """The second node dies at once, as a machine that loses power."""
        self._kill(self.worker, signal.SIGKILL)

    @staticmethod
    def _kill(process: subprocess.Popen, how: int = signal.SIGTERM) -> None:
        try:
            os.killpg(process.pid, how)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

    def stop(self) -> None:
        for process in (*self.extra, self.worker, self.head):
            if process is not None:
                self._kill(process)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
