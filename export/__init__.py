"""uprez exporter: generator checkpoints to verified ONNX models. Needs torch and onnx."""
