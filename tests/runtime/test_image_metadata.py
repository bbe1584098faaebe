"""Colour profiles, EXIF and XMP travel from the input file to the output file."""

import struct

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import ExifTags, Image

from tests.runtime.helpers import noise
from tests.runtime.photo_files import (
    CAMERA,
    camera_exif,
    display_p3_profile,
    photo,
    profile_for,
    srgb_profile,
    xmp_packet,
)
from uprez.runtime.base.image_metadata import ImageMetadata, losses
from uprez.runtime.base.imageio import read_image, read_image_and_metadata, write_image
from uprez.runtime.cli import main


def sr_run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def opened(path):
    return Image.open(path)


def assert_camera_exif(exif, width, height):
    assert exif[ExifTags.Base.Make] == CAMERA["make"]
    assert exif[ExifTags.Base.Model] == CAMERA["model"]
    assert exif[ExifTags.Base.Orientation] == 1
    details = exif.get_ifd(ExifTags.IFD.Exif)
    assert details[ExifTags.Base.DateTimeOriginal] == CAMERA["taken"]
    assert (details[ExifTags.Base.ExifImageWidth],
            details[ExifTags.Base.ExifImageHeight]) == (width, height)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N" and gps[ExifTags.GPS.GPSLongitudeRef] == "E"
    assert gps[ExifTags.GPS.GPSLatitude] == tuple(n / d for n, d in CAMERA["latitude"])
    assert gps[ExifTags.GPS.GPSLongitude] == tuple(n / d for n, d in CAMERA["longitude"])


def xmp_of(path) -> bytes:
    info = opened(path).info
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
    return xmp.encode() if isinstance(xmp, str) else xmp


def test_srgb_and_display_p3_jpeg_and_png_keep_their_profile_bytes_exactly(tmp_path, models,
                                                                          rng):
    profiles = {"srgb": srgb_profile(), "p3": display_p3_profile()}
    assert profiles["srgb"] != profiles["p3"]
    folder = tmp_path / "in"
    folder.mkdir()
    for name, profile in profiles.items():
        image = noise(rng, (10, 14, 3))
        (folder / f"{name}.jpg").write_bytes(photo(image, "JPEG", icc_profile=profile))
        (folder / f"{name}.png").write_bytes(photo(image, "PNG", icc_profile=profile))
    result = sr_run(folder, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 0, result.output
    for name, profile in profiles.items():
        for suffix in (".jpg", ".png"):
            out = opened(tmp_path / "out" / f"{name}{suffix}")
            assert out.size == (28, 20)
            assert out.info["icc_profile"] == profile, f"{name}{suffix}"


def test_exif_camera_date_and_gps_survive_with_the_orientation_reset(tmp_path, models, rng):
    image = noise(rng, (10, 14, 3))  # stored sideways: orientation 6 turns it upright
    source = tmp_path / "in" / "shot.jpg"
    source.parent.mkdir()
    source.write_bytes(photo(image, "JPEG", exif=camera_exif(6, width=14, height=10),
                             xmp=xmp_packet(6, 14), quality=95))
    result = sr_run(source, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu",
                    "--format", "png")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "shot.png"
    assert read_image(out).shape == (28, 20, 3)  # upright, and shown so: orientation is 1
    assert_camera_exif(opened(out).getexif(), 20, 28)
    xmp = xmp_of(out)
    assert b'tiff:Orientation="1"' in xmp and b"<exif:PixelXDimension>20<" in xmp
    assert b"A. Photographer" in xmp


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_each_format_carries_profile_exif_and_xmp(tmp_path, rng, suffix):
    profile = display_p3_profile()
    source = tmp_path / "a.jpg"
    source.write_bytes(photo(noise(rng, (6, 9, 3)), "JPEG", icc_profile=profile,
                             exif=camera_exif(1, width=9, height=6), xmp=xmp_packet(1, 9)))
    image, metadata = read_image_and_metadata(source)
    assert metadata.kinds() == {"icc", "exif", "xmp"}
    big = cv2.resize(image, (36, 24), interpolation=cv2.INTER_NEAREST)
    write_image(tmp_path / f"b{suffix}", big, metadata=metadata)
    out = opened(tmp_path / f"b{suffix}")
    assert out.size == (36, 24)
    assert out.info["icc_profile"] == profile
    assert_camera_exif(out.getexif(), 36, 24)
    assert b"A. Photographer" in xmp_of(tmp_path / f"b{suffix}")
    assert read_image(tmp_path / f"b{suffix}").shape == (24, 36, 3)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape, dtype", [((7, 5, 3), np.uint8), ((7, 5, 4), np.uint8),
                                          ((7, 5), np.uint8), ((7, 5), np.uint16)])
def test_lossless_pixels_written_with_metadata_are_the_pixels_written_without(tmp_path, rng,
                                                                              suffix, shape,
                                                                              dtype):
    image = noise(rng, shape, dtype)
    metadata = ImageMetadata(icc_profile=srgb_profile() if len(shape) == 3 else
                             profile_for(b"GRAY"))
    path = tmp_path / f"a{suffix}"
    write_image(path, image, metadata=metadata)
    assert opened(path).info["icc_profile"] == metadata.icc_profile
    if suffix == ".tif" and len(shape) == 3 and shape[2] == 4:
        # TIFF marks the alpha as straight (unassociated), which OpenCV's reader premultiplies;
        # the stored pixels are the image's, as Pillow (and photo editors) read them
        assert np.array_equal(np.asarray(opened(path)), image[:, :, [2, 1, 0, 3]])
    else:
        assert np.array_equal(read_image(path), image)


def test_jpeg_and_webp_with_metadata_have_the_same_pixels_as_without(tmp_path, rng):
    image = cv2.GaussianBlur(noise(rng, (32, 40, 3)), (5, 5), 0)
    metadata = ImageMetadata(icc_profile=srgb_profile())
    for suffix in (".jpg", ".webp"):
        write_image(tmp_path / f"plain{suffix}", image, quality=90)
        write_image(tmp_path / f"tagged{suffix}", image, quality=90, metadata=metadata)
        assert np.array_equal(read_image(tmp_path / f"plain{suffix}"),
                              read_image(tmp_path / f"tagged{suffix}"))


def test_16_bit_colour_png_keeps_its_profile(tmp_path, rng):
    if not hasattr(cv2, "imencodeWithMetadata"):
        pytest.skip("this OpenCV has no metadata writer (4.12+)")
    image = noise(rng, (6, 5, 3), np.uint16)
    metadata = ImageMetadata(icc_profile=display_p3_profile(),
                             exif=camera_exif().tobytes()[6:], xmp=xmp_packet())
    write_image(tmp_path / "deep.png", image, metadata=metadata)
    assert np.array_equal(read_image(tmp_path / "deep.png"), image)
    out = opened(tmp_path / "deep.png")
    assert out.info["icc_profile"] == metadata.icc_profile
    assert out.getexif()[ExifTags.Base.Make] == CAMERA["make"]
    assert b"A. Photographer" in xmp_of(tmp_path / "deep.png")


def test_16_bit_colour_tiff_keeps_its_pixels_and_loses_the_metadata_with_a_warning(tmp_path, rng):
    image = noise(rng, (6, 5, 3), np.uint16)
    metadata = ImageMetadata(icc_profile=display_p3_profile())
    write_image(tmp_path / "deep.tif", image, metadata=metadata)
    assert np.array_equal(read_image(tmp_path / "deep.tif"), image)
    assert "icc_profile" not in opened(tmp_path / "deep.tif").info
    [message] = losses(metadata, "tiff", image)
    assert "16-bit colour TIFF" in message and "--format png" in message
    gray = ImageMetadata(icc_profile=profile_for(b"GRAY"))
    assert losses(gray, "tiff", image[:, :, 0]) == []  # 16-bit gray keeps it


def test_strip_metadata_writes_the_pixels_alone(tmp_path, models, rng):
    source = tmp_path / "in" / "shot.jpg"
    source.parent.mkdir()
    source.write_bytes(photo(noise(rng, (8, 8, 3)), "JPEG", icc_profile=display_p3_profile(),
                             exif=camera_exif(), xmp=xmp_packet()))
    result = sr_run(source.parent, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu",
                    "--strip-metadata")
    assert result.exit_code == 0, result.output
    out = opened(tmp_path / "out" / "shot.jpg")
    assert "icc_profile" not in out.info and "xmp" not in out.info and not out.getexif()
    assert sr_run("-h").output.count("--strip-metadata") == 1


def test_bmp_holds_no_profile_and_says_so(tmp_path, rng):
    image = noise(rng, (4, 4, 3))
    metadata = ImageMetadata(icc_profile=display_p3_profile(), xmp=xmp_packet())
    write_image(tmp_path / "a.bmp", image, metadata=metadata)
    assert np.array_equal(read_image(tmp_path / "a.bmp"), image)
    messages = losses(metadata, "bmp", image)
    assert len(messages) == 2 and "bmp holds no colour profile" in messages[0]
    assert "XMP" in messages[1]


def test_blocks_a_jpeg_cannot_hold_are_left_out_with_one_warning(tmp_path, models, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    huge = xmp_packet().replace(b"A. Photographer", b"x" * 70_000)  # past a JPEG segment
    for name in ("a", "b"):
        (folder / f"{name}.png").write_bytes(photo(noise(rng, (6, 6, 3)), "PNG", xmp=huge,
                                                   icc_profile=display_p3_profile()))
    result = sr_run(folder, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu",
                    "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("XMP longer than a JPEG segment") == 1
    out = opened(tmp_path / "out" / "a.jpg")
    assert out.info["icc_profile"] == display_p3_profile() and "xmp" not in out.info


def test_damaged_exif_never_makes_an_image_unreadable(tmp_path, rng):
    image = noise(rng, (6, 8, 3))
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(20)  # 65535 entries, no room
    segment = b"\xff\xe1" + (len(junk) + 2).to_bytes(2, "big") + junk
    (tmp_path / "odd.jpg").write_bytes(jpeg[:2] + segment + jpeg[2:])
    back, metadata = read_image_and_metadata(tmp_path / "odd.jpg")
    assert back.shape == image.shape and metadata.exif is None
    write_image(tmp_path / "out.jpg", back, metadata=metadata)
    assert read_image(tmp_path / "out.jpg").shape == image.shape


def test_an_image_without_metadata_is_encoded_by_opencv_as_before(tmp_path, rng):
    image = noise(rng, (9, 7, 3))
    _, metadata = read_image_and_metadata(_saved(tmp_path / "plain.png", image))
    assert not metadata
    write_image(tmp_path / "out.png", image, metadata=metadata)
    assert (tmp_path / "out.png").read_bytes() == cv2.imencode(".png", image)[1].tobytes()


def _saved(path, image):
    path.write_bytes(cv2.imencode(path.suffix, image)[1].tobytes())
    return path


def exif_with_thumbnail(orientation: int) -> bytes:
    """EXIF as cameras write it: IFD0 (make, orientation, a stale width), then IFD1 pointing
    at a JPEG thumbnail, big-endian."""
    thumbnail = cv2.imencode(".jpg", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    make = b"Canon\0"

    def ifd(entries, next_offset):
        return (struct.pack(">H", len(entries)) + b"".join(entries)
                + struct.pack(">I", next_offset))

    ifd0_at, ifd0_size = 8, 2 + 3 * 12 + 4
    make_at = ifd0_at + ifd0_size
    ifd1_at = make_at + len(make)
    thumb_at = ifd1_at + 2 + 2 * 12 + 4
    ifd0 = ifd([struct.pack(">HHII", 0x0100, 4, 1, 999),  # ImageWidth
                struct.pack(">HHII", 0x010F, 2, len(make), make_at),
                struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)], ifd1_at)
    ifd1 = ifd([struct.pack(">HHII", 0x0201, 4, 1, thumb_at),
                struct.pack(">HHII", 0x0202, 4, 1, len(thumbnail))], 0)
    return b"MM\x00*" + struct.pack(">I", ifd0_at) + ifd0 + make + ifd1 + thumbnail


def test_exif_thumbnail_and_storage_tags_are_not_carried(tmp_path, rng):
    source = Image.Exif()
    source.load(exif_with_thumbnail(3))
    assert source.get_ifd(ExifTags.IFD.IFD1)  # the test file has a thumbnail
    (tmp_path / "a.jpg").write_bytes(photo(noise(rng, (5, 9, 3)), "JPEG",
                                           exif=b"Exif\0\0" + exif_with_thumbnail(3)))
    image, metadata = read_image_and_metadata(tmp_path / "a.jpg")
    write_image(tmp_path / "b.jpg", image, metadata=metadata)
    out = opened(tmp_path / "b.jpg").getexif()
    assert out[ExifTags.Base.Make] == "Canon" and out[ExifTags.Base.Orientation] == 1
    assert ExifTags.Base.ImageWidth not in out
    assert out.get_ifd(ExifTags.IFD.IFD1) == {}


def test_a_profile_for_other_channels_than_the_output_is_left_out(tmp_path, rng):
    rgb_profile = display_p3_profile()
    cmyk_profile = profile_for(b"CMYK")  # as a CMYK JPEG carries
    gray_profile = profile_for(b"GRAY")
    colour, gray = noise(rng, (4, 4, 3)), noise(rng, (4, 4))
    cases = [(colour, cmyk_profile, ".png", None), (colour, rgb_profile, ".png", rgb_profile),
             (gray, gray_profile, ".png", gray_profile), (gray, rgb_profile, ".png", None),
             (gray, gray_profile, ".webp", None)]  # WebP has no gray: written as RGB
    for number, (image, profile, suffix, kept) in enumerate(cases):
        path = tmp_path / f"{number}{suffix}"
        metadata = ImageMetadata(icc_profile=profile)
        write_image(path, image, metadata=metadata)
        assert opened(path).info.get("icc_profile") == kept, number
        warned = losses(metadata, suffix[1:], image)
        assert (warned == []) == (kept is not None), number
    assert "CMYK colour profile does not fit" in losses(ImageMetadata(icc_profile=cmyk_profile),
                                                       "jpg", colour)[0]


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, offset = {}, 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return chunks


def test_png_without_xmp_keeps_opencvs_encoding_and_xmp_goes_into_itxt(tmp_path, rng, capfd):
    if not hasattr(cv2, "imencodeWithMetadata"):
        pytest.skip("this OpenCV has no metadata writer (4.12+)")
    image = noise(rng, (16, 12, 3))
    plain = cv2.imencode(".png", image)[1].tobytes()
    write_image(tmp_path / "icc.png", image, metadata=ImageMetadata(icc_profile=srgb_profile()))
    tagged = png_chunks((tmp_path / "icc.png").read_bytes())
    assert tagged[b"IDAT"] == png_chunks(plain)[b"IDAT"]  # OpenCV's encoder, as without
    assert opened(tmp_path / "icc.png").info["icc_profile"] == srgb_profile()
    write_image(tmp_path / "xmp.png", image, metadata=ImageMetadata(xmp=xmp_packet()))
    chunks = png_chunks((tmp_path / "xmp.png").read_bytes())
    assert chunks[b"iTXt"].startswith(b"XML:com.adobe.xmp\0") and b"tEXt" not in chunks
    broken = b"\0\0\0\x10" + srgb_profile()[4:]  # a wrong length: libpng would complain
    write_image(tmp_path / "odd.png", image, metadata=ImageMetadata(icc_profile=broken))
    assert "libpng" not in capfd.readouterr().err  # (reading it with OpenCV would print)
    assert opened(tmp_path / "odd.png").info["icc_profile"] == broken
    assert np.array_equal(np.asarray(opened(tmp_path / "odd.png")), image[:, :, ::-1])
