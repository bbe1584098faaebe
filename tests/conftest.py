"""Settings for the whole test session, made before any test module imports torch."""

import os

# As sr-train does (trainer/cli.py): OpenMP threads that spin while they wait collapse CPU
# training several times over when other processes share the cores, as on CI and dev machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
