"""uprez runtime: upscale images and video with ONNX models, without PyTorch."""

__version__ = "0.1.0"
