"""`sr-eval`: a model's PSNR and SSIM beside bicubic, with the super-resolution papers'
conventions. protocol.py is the protocol for one image (also what sr-train validates with),
metrics.py its PSNR/SSIM, batch.py the folders and the scoring loop, report.py the tables and
JSON, compare.py the same for several models side by side, page/ the --html comparison page,
cli.py the command."""
