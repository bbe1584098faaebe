"""The ONNX opsets sr-export writes, stated once for the exporter and its --opset option.
Torch-free, so `sr-export --help` and the install hint work without torch."""

DEFAULT_OPSET = 17
MIN_OPSET = 11  # Resize with scales, needed for the nearest upsampling
MAX_OPSET = 20  # the TorchScript exporter's newest
