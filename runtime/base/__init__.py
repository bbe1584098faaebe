"""The torch-free base every uprez command shares (sr-run, sr-eval, sr-export, sr-train,
sr-downscale): talking to the user (console), atomic writes, the batch report and the exit-code
rule, Ctrl-C handling, image files, and reading the weights out of checkpoint files.

Nothing here imports another part of uprez, so every layer above can use it.
"""
