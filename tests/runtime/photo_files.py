"""Test files with colour profiles, EXIF and XMP, and animated GIF, APNG and WebP, made here."""

from __future__ import annotations

import io
import struct

import numpy as np

# Display P3's primaries adapted to the D50 profile connection space (as in Apple's profile)
P3_COLORANTS = ((0.5151, 0.2412, -0.0011), (0.2919, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
D50 = (0.9642, 1.0, 0.8249)


def display_p3_profile() -> bytes:
    """A small matrix/TRC ICC v2 display profile with Display P3's primaries and description."""

    def s15(values) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    description = b"Display P3"
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", len(description) + 1) + description
         + b"\0" + bytes(4 + 4 + 2 + 1 + 67)),
        (b"cprt", b"text" + bytes(4) + b"made by the uprez tests\0"),
        (b"wtpt", b"XYZ " + bytes(4) + s15(D50)),
        (b"rXYZ", b"XYZ " + bytes(4) + s15(P3_COLORANTS[0])),
        (b"gXYZ", b"XYZ " + bytes(4) + s15(P3_COLORANTS[1])),
        (b"bXYZ", b"XYZ " + bytes(4) + s15(P3_COLORANTS[2])),
        (b"rTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233)),  # gamma 2.2
    ]
    tags += [(b"gTRC", tags[-1][1]), (b"bTRC", tags[-1][1])]
    offset = 128 + 4 + 12 * len(tags)
    table, body = [], b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)  # tags start on 4-byte boundaries
        table.append(struct.pack(">4sII", signature, offset + len(body), len(data)))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + bytes(4) + bytes(4)
              + bytes(4 + 4 + 8) + struct.pack(">I", 0) + s15(D50) + bytes(4) + bytes(16)
              + bytes(28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


def profile_for(space: bytes) -> bytes:
    """A profile whose header says it describes `space` (b"GRAY", b"CMYK"): enough for the
    channel check, which reads only the header."""
    profile = display_p3_profile()
    return profile[:16] + space + profile[20:]


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


CAMERA = {"make": "Canon", "model": "EOS R5", "taken": "2024:05:17 14:03:21",
          "latitude": ((48, 1), (51, 1), (2964, 100)), "longitude": ((2, 1), (17, 1), (4020, 100))}


def camera_exif(orientation: int = 1, *, width: int = 0, height: int = 0):
    """EXIF as a camera writes it: make, model, date taken, GPS, orientation, pixel size."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA["make"]
    exif[ExifTags.Base.Model] = CAMERA["model"]
    exif[ExifTags.Base.Orientation] = orientation
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = CAMERA["taken"]
    details[ExifTags.Base.ExifImageWidth] = width
    details[ExifTags.Base.ExifImageHeight] = height
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(n / d for n, d in CAMERA["latitude"])
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(n / d for n, d in CAMERA["longitude"])
    return exif


def xmp_packet(orientation: int = 1, width: int = 0) -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
            b'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            b'tiff:Orientation="' + str(orientation).encode() + b'">'
            b'<exif:PixelXDimension>' + str(width).encode() + b'</exif:PixelXDimension>'
            b'<dc:creator><rdf:Seq><rdf:li>A. Photographer</rdf:li></rdf:Seq></dc:creator>'
            b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def photo(bgr: np.ndarray, fmt: str, **save) -> bytes:
    """`bgr` (OpenCV layout) encoded by Pillow as `fmt` with icc_profile/exif/xmp/... options."""
    from PIL import Image

    if bgr.ndim == 3:
        bgr = bgr[:, :, [2, 1, 0, 3]] if bgr.shape[2] == 4 else bgr[:, :, ::-1]
    if "xmp" in save and fmt == "PNG":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", save.pop("xmp").decode())
        save["pnginfo"] = info
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr)).save(out, fmt, **save)
    return out.getvalue()


def sprite_frames(count: int = 3, height: int = 16, width: int = 20) -> list[np.ndarray]:
    """RGBA frames of a square crossing a transparent canvas, one colour per frame."""
    colours = [(230, 40, 30), (40, 200, 60), (30, 60, 220), (220, 200, 40)]
    frames = []
    for number in range(count):
        frame = np.zeros((height, width, 4), np.uint8)
        top, left = 2 + 3 * number, 2 + 4 * number
        frame[top:top + 6, left:left + 6] = (*colours[number % len(colours)], 255)
        frames.append(frame)
    return frames


def gif_file(frames: list[np.ndarray], durations, *, loop: int | None, disposal: int = 2) -> bytes:
    """An animated GIF of RGBA frames (transparent where alpha is 0), frame by frame."""
    from PIL import Image

    images = [Image.fromarray(frame, "RGBA") for frame in frames]
    save = {"duration": list(durations), "disposal": disposal, "optimize": False}
    if loop is not None:
        save["loop"] = loop
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], **save)
    return out.getvalue()


def animated_file(frames: list[np.ndarray], fmt: str, durations, *, loop: int, **save) -> bytes:
    """An APNG ("PNG") or animated WebP ("WEBP", lossless) of RGBA frames."""
    from PIL import Image

    images = [Image.fromarray(frame, "RGBA") for frame in frames]
    if fmt == "WEBP":
        save.setdefault("lossless", True)
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=list(durations),
                   loop=loop, **save)
    return out.getvalue()


def shown_frames(path):
    """What a viewer shows: RGBA frames, their durations, the loop field and the first info."""
    from PIL import Image

    with Image.open(path) as image:
        first = dict(image.info)
        frames, durations = [], []
        for number in range(image.n_frames):
            image.seek(number)
            image.load()
            frames.append(np.asarray(image.convert("RGBA")))
            durations.append(image.info.get("duration"))
        return frames, durations, image.info.get("loop", first.get("loop")), first
