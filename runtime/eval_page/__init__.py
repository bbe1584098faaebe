"""The comparison page of `sr-eval --html`: `regions` decides what to show, `writer` writes
index.html (with page.html, page.css and page.js inlined) and the image files beside it.

Kept free of heavy imports: the CLI reads DEFAULT_MAX_IMAGES for its --help.
"""

DEFAULT_MAX_IMAGES = 50  # images that get pictures; the scores table lists every image
