"""Reading and writing image files: depth, channels, palettes, EXIF, errors, atomic writes."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from tests.runtime.helpers import noise
from uprez.runtime.base.imageio import ImageReadError, ImageWriteError, read_image, write_image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def palette_png(indices: np.ndarray, palette: list, transparency: list) -> bytes:
    height, width = indices.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8-bit, colour type 3
    rows = b"".join(b"\x00" + bytes(row.tolist()) for row in indices)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
            + png_chunk(b"tRNS", bytes(transparency))
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def exif_with_orientation(value: int) -> bytes:
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, value, 0) + b"\0\0\0\0"
    return b"MM\x00*" + struct.pack(">I", 8) + ifd


def with_jpeg_exif(jpeg: bytes, orientation: int) -> bytes:
    segment = b"Exif\x00\x00" + exif_with_orientation(orientation)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]


def with_png_exif(png: bytes, orientation: int) -> bytes:
    end_of_header = 8 + 8 + 13 + 4
    exif = png_chunk(b"eXIf", exif_with_orientation(orientation))
    return png[:end_of_header] + exif + png[end_of_header:]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3), (9, 7, 4)])
def test_16_bit_gray_colour_and_alpha_round_trip_unchanged(tmp_path, rng, suffix, shape):
    image = noise(rng, shape, np.uint16)
    write_image(tmp_path / f"a{suffix}", image)
    back = read_image(tmp_path / f"a{suffix}")
    assert back.dtype == np.uint16 and np.array_equal(back, image)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".webp", ".tiff"])
def test_8_bit_images_keep_their_channels(tmp_path, rng, suffix):
    for shape in [(6, 5), (6, 5, 3), (6, 5, 4)]:
        image = noise(rng, shape)
        params = {"quality": 100} if suffix == ".webp" else {}
        write_image(tmp_path / f"b{suffix}", image, **params)
        back = read_image(tmp_path / f"b{suffix}")
        expected = (6, 5, 3) if suffix == ".webp" and len(shape) == 2 else shape  # WebP has no gray
        assert back.shape == expected and back.dtype == np.uint8
        if suffix != ".webp":
            assert np.array_equal(back, image)


def test_palette_png_with_transparency_reads_as_bgra(tmp_path):
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    (tmp_path / "p.png").write_bytes(
        palette_png(indices, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], [255, 0, 128]))
    image = read_image(tmp_path / "p.png")
    assert image.shape == (2, 3, 4)
    assert image[0, 0].tolist() == [0, 0, 255, 255]  # red, opaque
    assert image[0, 1, 3] == 0 and image[0, 2, 3] == 128


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_viewers_do(tmp_path, rng, orientation):
    image = noise(rng, (12, 20, 3))
    jpeg = with_jpeg_exif(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes(),
                          orientation)
    (tmp_path / "o.jpg").write_bytes(jpeg)
    # OpenCV's 8-bit colour read applies orientation itself: the reference for JPEG
    expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(read_image(tmp_path / "o.jpg"), expected)


def test_exif_orientation_in_a_16_bit_png_is_applied(tmp_path, rng):
    image = noise(rng, (4, 6, 4), np.uint16)
    png = cv2.imencode(".png", image)[1].tobytes()
    (tmp_path / "o.png").write_bytes(with_png_exif(png, 6))  # rotate 90 clockwise
    back = read_image(tmp_path / "o.png")
    assert back.dtype == np.uint16
    assert np.array_equal(back, np.rot90(image, -1))


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"this is a text file\n", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "corrupt or truncated PNG"),
])
def test_unreadable_files_raise_with_path_and_reason(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert caught.value.path == str(path) and reason in caught.value.reason


def test_truncated_jpeg_is_reported(tmp_path, rng):
    jpeg = cv2.imencode(".jpg", noise(rng, (64, 64, 3)))[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])
    with pytest.raises(ImageReadError, match="JPEG"):
        read_image(tmp_path / "cut.jpg")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageReadError, match="No such file"):
        read_image(tmp_path / "nope.png")


def test_16_bit_to_an_8_bit_format_is_scaled_not_clipped(tmp_path):
    image = np.full((4, 4, 3), 40000, np.uint16)
    write_image(tmp_path / "x.jpg", image, quality=100)
    assert abs(int(read_image(tmp_path / "x.jpg").mean()) - 40000 // 257) <= 1


def test_writes_are_atomic_and_leave_no_temp_file_on_failure(tmp_path, rng):
    target = tmp_path / "out" / "deep" / "x.png"
    write_image(target, noise(rng, (5, 5, 3)))
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.png"]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ImageWriteError):
        write_image(blocker / "y.png", noise(rng, (5, 5, 3)))
    with pytest.raises(ImageWriteError, match="unknown image format"):
        write_image(tmp_path / "z.gif", noise(rng, (5, 5, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]


def test_an_interrupted_write_removes_its_temp_file(tmp_path, rng, monkeypatch):
    import os

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "x.png", noise(rng, (5, 5, 3)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix, kind", [(".png", "animated PNG"), (".webp", "animated WebP")])
def test_an_animation_is_refused_instead_of_losing_all_but_its_first_frame(tmp_path, suffix,
                                                                             kind):
    animation = cv2.Animation()
    animation.frames = [np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)]
    animation.durations = [100, 100]
    ok, encoded = cv2.imencodeanimation(suffix, animation)
    assert ok
    path = tmp_path / f"anim{suffix}"
    path.write_bytes(encoded.tobytes())
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert caught.value.reason.startswith(kind) and "first frame" in caught.value.reason


def test_a_png_cut_anywhere_is_reported_without_libpng_noise(tmp_path, rng, capfd):
    png = cv2.imencode(".png", noise(rng, (32, 32, 3)))[1].tobytes()
    for length in range(9, len(png), max(1, len(png) // 40)):
        (tmp_path / "cut.png").write_bytes(png[:length])
        with pytest.raises(ImageReadError, match="truncated PNG"):
            read_image(tmp_path / "cut.png")
    assert "libpng" not in capfd.readouterr().err


def test_bytes_after_a_png_end_do_not_make_it_unreadable(tmp_path, rng):
    image = noise(rng, (5, 7, 3))
    (tmp_path / "tail.png").write_bytes(cv2.imencode(".png", image)[1].tobytes() + b"junk")
    assert np.array_equal(read_image(tmp_path / "tail.png"), image)


def test_an_image_over_opencvs_pixel_limit_is_called_too_large_with_the_limit(tmp_path, rng):
    # OpenCV reads its limit once, as it loads: a fresh process with a low limit, a real file
    import subprocess
    import sys

    path = tmp_path / "big.png"
    write_image(path, noise(rng, (120, 200, 3)))
    code = ("from uprez.runtime.base.imageio import read_image, ImageReadError\n"
            f"try:\n    read_image({str(path)!r})\n"
            "except ImageReadError as exc:\n    print(exc.reason)\n")
    env = {**__import__("os").environ, "OPENCV_IO_MAX_IMAGE_PIXELS": "10000"}
    reason = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120).stdout.strip()
    assert reason.startswith("too large: 200x120 = 24,000 pixels"), reason
    assert "limit of 10,000 pixels" in reason and "corrupt" not in reason


def test_a_png_header_over_the_pixel_limit_is_too_large_not_corrupt(tmp_path):
    header = struct.pack(">IIBBBBB", 60000, 50000, 8, 2, 0, 0, 0)
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match=r"too large: 60000x50000 = 3,000,000,000 pixels "
                                             r"is over OpenCV's limit of 1,073,741,824"):
        read_image(path)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_and_alpha_png_reads_as_two_channels_and_writes_back_as_gray_and_alpha(
        tmp_path, rng, dtype):
    image = noise(rng, (9, 11, 2), dtype)
    write_image(tmp_path / "la.png", image)
    data = (tmp_path / "la.png").read_bytes()
    assert data[24:26] == bytes([8 if dtype == np.uint8 else 16, 4])  # depth, gray + alpha
    back = read_image(tmp_path / "la.png")
    assert back.dtype == dtype and np.array_equal(back, image)
    # OpenCV itself reads the file as what it is
    assert np.array_equal(cv2.imread(str(tmp_path / "la.png"), cv2.IMREAD_UNCHANGED)[:, :, 3],
                          image[:, :, 1])


def test_gray_and_alpha_becomes_gray_in_jpeg_and_bgra_where_only_colour_has_alpha(tmp_path,
                                                                                   rng):
    image = noise(rng, (9, 11, 2))
    write_image(tmp_path / "la.jpg", image, quality=100)
    assert read_image(tmp_path / "la.jpg").shape == (9, 11)
    write_image(tmp_path / "la.bmp", image)
    bgra = read_image(tmp_path / "la.bmp")
    assert np.array_equal(bgra[:, :, 3], image[:, :, 1])
    assert all(np.array_equal(bgra[:, :, c], image[:, :, 0]) for c in range(3))
