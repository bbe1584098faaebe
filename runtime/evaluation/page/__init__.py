"""The comparison page of `sr-eval --html`: `regions` decides what to show, `writer` writes
index.html (with page.html, page.css and page.js inlined) and the image files beside it.

Kept free of heavy imports: the CLI reads these numbers for its --help.
"""

DEFAULT_MAX_IMAGES = 50  # images that get pictures; the scores table lists every image
FULL_SIZE = 640  # HR images up to this many pixels on both sides are shown whole
# larger ones as up to MAX_CROPS crops of CROP x CROP pixels: 240 is a multiple of 2, 3, 4, 5, 6
# and 8, and at 2x it fits the viewer on a laptop screen
CROP = 240
MAX_CROPS = 4
