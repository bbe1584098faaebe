"""uprez trainer: SRGAN/ESRGAN-family generators in PyTorch."""
