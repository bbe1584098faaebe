"""Settings for the whole test session, made before any test module imports torch."""

import os
import signal

import pytest

# As sr-train does (trainer/cli.py): OpenMP threads that spin while they wait collapse CPU
# training several times over when other processes share the cores, as on CI and dev machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_delivered_as_in_a_terminal():
    """The Ctrl-C tests need SIGINT to arrive. A suite started in the background (`nohup ...
    &`, some CI runners) inherits it ignored, and the commands rightly leave an ignored SIGINT
    ignored, in the test process and in the child processes it starts (an ignored signal stays
    ignored across exec; a handled one is reset to the default). So the session handles it as
    Python does in a terminal."""
    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
