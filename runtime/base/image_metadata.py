"""A photo's colour profile, EXIF and XMP, carried from the input file into the output file.

OpenCV decodes and encodes the pixels but drops these blocks, and an image shown without its
colour profile is shown as sRGB: a Display-P3 or Adobe RGB photo loses saturation. Pillow reads
them and writes them. The output's EXIF says what is now true of the pixels: the orientation is
1 (the reader has already turned the image upright), the pixel dimensions are the new ones, the
thumbnail (a picture of the small image) is dropped. XMP gets the same three corrections.

Which encoder writes an image with metadata: Pillow wherever it holds the pixels exactly (every
8-bit image, 16-bit gray), except PNG without XMP, which OpenCV's own metadata writer (4.12+)
encodes twice as fast; 16-bit colour PNG always goes through OpenCV's writer, since Pillow has
no 16-bit colour mode. Images with nothing to keep are encoded by OpenCV as before.
(This module is about photos; `metadata.py` is the ONNX model metadata contract.)
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np

from uprez.runtime.base.exif import ORIENTATION_TAG, exif_block

# What each output format can hold: colour profile, EXIF, XMP.
HOLDS = {
    "png": frozenset({"icc", "exif", "xmp"}),
    "jpg": frozenset({"icc", "exif", "xmp"}),
    "webp": frozenset({"icc", "exif", "xmp"}),
    "tiff": frozenset({"icc", "exif", "xmp"}),
    "apng": frozenset({"icc", "exif", "xmp"}),
    "bmp": frozenset(),
    "gif": frozenset(),  # GIF can carry a profile in an extension block, but Pillow cannot write it
}
JPEG_SEGMENT_LIMIT = 65533 - 29  # an APP1 segment's payload, less the longest header (XMP's)

_EXIF_IFD, _GPS_IFD, _PIXEL_X, _PIXEL_Y = 0x8769, 0x8825, 0xA002, 0xA003
_SUB_IFDS = (_EXIF_IFD, _GPS_IFD)
_XMP_TAG, _PREDICTOR = 700, 317
# IFD0 tags that describe how a TIFF file stores its pixels (sizes, strips, compression...) or
# that are carried separately (XMP, ICC): they belong to the source file, not to the photo
_STORAGE_TAGS = frozenset({
    0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x0108, 0x0109, 0x010A,
    0x0111, 0x0115, 0x0116, 0x0117, 0x0118, 0x0119, 0x011C, 0x0120, 0x0121, 0x0122, 0x0123,
    0x013D, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x0152, 0x0153, 0x0154, 0x0155, 0x014A,
    0x0201, 0x0202, 0x02BC, 0x83BB, 0x8649, 0x8773,
})
_XMP_NAMESPACE = "XML:com.adobe.xmp"  # the PNG iTXt keyword XMP lives under

# Pillow reports oddities of real-world EXIF blocks as UserWarnings; we keep what it can read
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")


@dataclass(frozen=True)
class ImageMetadata:
    """What travels from an input file to its output; None where the input had none."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # TIFF-structured, orientation 1, no storage tags, no thumbnail
    xmp: bytes | None = None

    def __bool__(self) -> bool:
        return any((self.icc_profile, self.exif, self.xmp))

    def kinds(self) -> frozenset[str]:
        present = {"icc": self.icc_profile, "exif": self.exif, "xmp": self.xmp}
        return frozenset(kind for kind, value in present.items() if value)


NO_METADATA = ImageMetadata()


def read_metadata(data: bytes, kind: str | None) -> ImageMetadata:
    """The metadata in an encoded image (`kind`: 'PNG', 'JPEG', 'WebP', 'TIFF', 'GIF', 'BMP').

    Blocks that are damaged are left out: metadata never makes a readable image unreadable."""
    opener = _openers().get(kind or "")
    info: dict = {}
    if opener is not None:
        try:
            info = opener(io.BytesIO(data)).info
        except Exception:  # noqa: BLE001 - a header Pillow cannot parse holds nothing we keep
            info = {}
    return ImageMetadata(icc_profile=info.get("icc_profile") or None,
                         exif=_clean_exif(exif_block(data)), xmp=_xmp_of(info))


def metadata_of_pillow_image(image, data: bytes) -> ImageMetadata:
    """The metadata of an image Pillow has open (the frames reader uses it for animations)."""
    return ImageMetadata(icc_profile=image.info.get("icc_profile") or None,
                         exif=_clean_exif(exif_block(data)), xmp=_xmp_of(image.info))


def for_output(metadata: ImageMetadata, width: int, height: int, *, gray: bool = False
               ) -> ImageMetadata:
    """The metadata with the output's pixel dimensions written into EXIF and XMP, and without
    a colour profile made for other channels than the output's (`gray` or RGB)."""
    icc = metadata.icc_profile if profile_fits(metadata.icc_profile, gray) else None
    return ImageMetadata(icc_profile=icc, exif=_exif_with_size(metadata.exif, width, height),
                         xmp=_xmp_corrected(metadata.xmp, width, height))


def profile_fits(icc: bytes | None, gray: bool) -> bool:
    """Whether an ICC profile describes the output's channels: a CMYK JPEG's profile, say,
    does not fit the RGB pixels OpenCV decodes it to."""
    return bool(icc) and icc[16:20] == (b"GRAY" if gray else b"RGB ")


def output_is_gray(image: np.ndarray, fmt: str) -> bool:
    # WebP has no gray: it is written as RGB
    return (image.ndim == 2 or image.shape[2] == 2) and fmt != "webp"


def losses(metadata: ImageMetadata, fmt: str, image: np.ndarray) -> list[str]:
    """One line per kind of metadata `fmt` cannot keep for this image (for a warning)."""
    present = metadata.kinds()
    if not present:
        return []
    kept = HOLDS.get(fmt, frozenset())
    if fmt == "png" and image.dtype == np.uint16 and image.ndim == 3 and image.shape[2] == 2:
        return ["16-bit gray-and-alpha PNG is written without the colour profile, EXIF and XMP "
                "(no writer here holds both)"]
    if fmt == "tiff" and image.dtype == np.uint16 and image.ndim == 3:
        return ["16-bit colour TIFF is written without the colour profile, EXIF and XMP "
                "(no writer here holds both; use --format png to keep them)"]
    if (fmt == "png" and image.dtype == np.uint16 and image.ndim == 3
            and not _opencv_writes_metadata()):
        return ["16-bit colour PNG is written without the colour profile, EXIF and XMP "
                "(this OpenCV cannot write them; OpenCV 4.12 or later can)"]
    messages = []
    if "icc" in present and "icc" not in kept:
        messages.append(f"{fmt} holds no colour profile: outputs are shown as sRGB "
                        "(use --format png to keep the profile)")
    elif "icc" in present and not profile_fits(metadata.icc_profile, output_is_gray(image, fmt)):
        space = metadata.icc_profile[16:20].decode("ascii", "replace").strip() or "unknown"
        messages.append(f"an input's {space} colour profile does not fit its "
                        f"{'gray' if output_is_gray(image, fmt) else 'RGB'} output and is "
                        "left out")
    lost = sorted(k.upper() for k in present - {"icc"} - kept)
    if fmt == "jpg":
        lost += [f"{name} longer than a JPEG segment" for name, block
                 in (("EXIF", metadata.exif), ("XMP", metadata.xmp))
                 if block and len(block) > JPEG_SEGMENT_LIMIT]
    if lost:
        messages.append(f"{fmt} outputs are written without the inputs' {' and '.join(lost)}")
    return messages


def encode_with_metadata(image: np.ndarray, fmt: str, metadata: ImageMetadata,
                         quality: int) -> bytes | None:
    """`image` (OpenCV layout, already fitted to `fmt`) encoded with `metadata`, or None when
    this format cannot hold it for this image (the caller encodes the pixels alone)."""
    if not metadata or not (metadata.kinds() & HOLDS.get(fmt, frozenset())):
        return None
    metadata = for_output(metadata, image.shape[1], image.shape[0],
                          gray=output_is_gray(image, fmt))
    if not metadata:
        return None
    deep_colour = image.dtype == np.uint16 and image.ndim == 3
    if (fmt == "png" and _opencv_writes_metadata() and (deep_colour or not metadata.xmp)
            and _well_formed(metadata.icc_profile)):
        # OpenCV's own writer: PNG's encoder, speed and pixels as without metadata (Pillow's
        # PNG encoder takes twice as long); it writes XMP as tEXt, so XMP goes through Pillow,
        # as the iTXt chunk the XMP standard names, except where Pillow cannot hold the pixels.
        # libpng refuses some profiles Pillow writes as they are.
        encoded = _opencv_png(image, metadata)
        if encoded is not None:
            return encoded
        if deep_colour:
            raise ValueError("libpng refused the colour profile or metadata")
    if deep_colour:
        return None
    picture = pillow_image(image)
    out = io.BytesIO()
    picture.save(out, format=_PILLOW_FORMAT[fmt], **pillow_save_options(fmt, metadata, quality))
    return out.getvalue()


def pillow_image(image: np.ndarray):
    """An OpenCV-layout image (gray, BGR, BGRA; 16-bit gray) as a Pillow image. The channels
    are reordered while Pillow unpacks them, one pass instead of a numpy copy and a second."""
    from PIL import Image

    if image.ndim == 2:
        return Image.fromarray(image)  # "L", or "I;16" for 16-bit gray
    if image.shape[2] == 2:
        return Image.fromarray(np.ascontiguousarray(image), "LA")  # 8-bit only
    image = np.ascontiguousarray(image)
    height, width, channels = image.shape
    mode, raw = ("RGBA", "BGRA") if channels == 4 else ("RGB", "BGR")
    return Image.frombuffer(mode, (width, height), image, "raw", raw, 0, 1)


def gray_alpha_png(image: np.ndarray, metadata: ImageMetadata) -> bytes:
    """A gray-and-alpha image (HxWx2) as a PNG of that colour type, which OpenCV cannot write:
    8-bit through Pillow, with the metadata; 16-bit (which Pillow cannot hold) by our own
    few lines, without it (`losses` says so)."""
    if image.dtype == np.uint8:
        metadata = for_output(metadata, image.shape[1], image.shape[0], gray=True)
        out = io.BytesIO()
        pillow_image(image).save(out, format="PNG",
                                 **pillow_save_options("png", metadata, quality=0))
        return out.getvalue()
    import zlib

    height, width = image.shape[:2]
    rows = np.zeros((height, 1 + width * 4), np.uint8)  # a filter byte (0: none) per row
    rows[:, 1:] = image.astype(">u2").view(np.uint8).reshape(height, width * 4)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 4, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def pillow_save_options(fmt: str, metadata: ImageMetadata, quality: int) -> dict:
    """Keyword arguments for Pillow's `save` that write `metadata` (already `for_output`) in
    `fmt`, plus the encoder settings that match what OpenCV writes without metadata."""
    options: dict = {}
    if metadata.icc_profile:
        options["icc_profile"] = metadata.icc_profile
    exif, xmp = metadata.exif, metadata.xmp
    if fmt == "jpg":
        exif = exif if exif and len(exif) <= JPEG_SEGMENT_LIMIT else None
        xmp = xmp if xmp and len(xmp) <= JPEG_SEGMENT_LIMIT else None
        options.update(quality=quality)
    elif fmt == "webp":
        options.update(quality=quality)
    elif fmt in ("png", "apng"):
        options.update(PNG_SETTINGS)
        if xmp:
            from PIL import PngImagePlugin

            text = PngImagePlugin.PngInfo()
            text.add_itxt(_XMP_NAMESPACE, xmp.decode("utf-8", "replace"))
            options["pnginfo"] = text
            xmp = None
    elif fmt == "tiff":
        # EXIF and XMP are tags of the image's own directory; LZW with horizontal differencing
        # as OpenCV writes TIFF, except that EXIF's Exif and GPS sub-directories can only be
        # written by Pillow's own writer, which does not compress
        tags = _tiff_tags(exif, xmp)
        if not any(tag in tags for tag in _SUB_IFDS):
            tags[_PREDICTOR] = 2
            options.update(compression="tiff_lzw")
        options.update(tiffinfo=tags)
        exif = xmp = None
    if exif:
        options["exif"] = b"Exif\x00\x00" + exif
    if xmp:
        options["xmp"] = xmp
    return options


# zlib's fastest level with run-length matching: as fast as Pillow's PNG writer gets (about
# half OpenCV's speed on large images, files 10-20% smaller), for APNG and PNG with XMP
PNG_SETTINGS = {"compress_level": 1, "compress_type": 3}  # 3 is zlib.Z_RLE
_PILLOW_FORMAT = {"png": "PNG", "apng": "PNG", "jpg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}


def _openers() -> dict:
    """Pillow's readers by format, used directly: `Image.open` would refuse a very large image
    as a decompression bomb although only its header is read here."""
    from PIL import (
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )

    return {"JPEG": JpegImagePlugin.JpegImageFile, "PNG": PngImagePlugin.PngImageFile,
            "WebP": WebPImagePlugin.WebPImageFile, "TIFF": TiffImagePlugin.TiffImageFile,
            "GIF": GifImagePlugin.GifImageFile}


def _xmp_of(info: dict) -> bytes | None:
    xmp = info.get("xmp") or info.get(_XMP_NAMESPACE)  # iTXt, or the zTXt/tEXt some tools write
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return bytes(xmp) if xmp else None


def _clean_exif(block: bytes | None) -> bytes | None:
    """An EXIF block as the output should carry it, or None when there is none or it is
    unreadable."""
    if not block:
        return None
    from PIL import Image

    try:
        exif = Image.Exif()
        exif.load(block)
        for tag in _STORAGE_TAGS & set(exif):
            del exif[tag]
        if ORIENTATION_TAG in exif:
            exif[ORIENTATION_TAG] = 1
        cleaned = exif.tobytes()  # IFD0 and its Exif/GPS/Interop IFDs; the thumbnail IFD goes
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on damaged blocks
        return None
    cleaned = cleaned[len(b"Exif\x00\x00"):]
    return cleaned if len(cleaned) > 8 + 2 + 4 else None  # a header and an empty IFD: nothing


def _exif_with_size(block: bytes | None, width: int, height: int) -> bytes | None:
    if not block:
        return None
    from PIL import Image

    try:
        exif = Image.Exif()
        exif.load(block)
        if _EXIF_IFD in exif:
            details = exif.get_ifd(_EXIF_IFD)
            details[_PIXEL_X], details[_PIXEL_Y] = width, height
        return exif.tobytes()[len(b"Exif\x00\x00"):]
    except Exception:  # noqa: BLE001 - read once already; keep it as it was
        return block


_XMP_SIZES = ("tiff:Orientation", "tiff:ImageWidth", "tiff:ImageLength",
              "exif:PixelXDimension", "exif:PixelYDimension")


def _xmp_corrected(xmp: bytes | None, width: int, height: int) -> bytes | None:
    """XMP with the orientation and pixel sizes of the output, in either RDF spelling
    (attribute `tiff:Orientation="6"` or element `<tiff:Orientation>6</...>`)."""
    if not xmp:
        return xmp
    values = {"tiff:Orientation": 1, "tiff:ImageWidth": width, "tiff:ImageLength": height,
              "exif:PixelXDimension": width, "exif:PixelYDimension": height}
    for name in _XMP_SIZES:
        new = str(values[name]).encode()
        tag = re.escape(name.encode())
        xmp = re.sub(rb"(\b" + tag + rb"\s*=\s*[\"'])\s*\d+\s*([\"'])",
                     lambda m, new=new: m.group(1) + new + m.group(2), xmp)
        xmp = re.sub(rb"(<" + tag + rb">)\s*\d+\s*(</" + tag + rb">)",
                     lambda m, new=new: m.group(1) + new + m.group(2), xmp)
    return xmp


def _tiff_tags(exif: bytes | None, xmp: bytes | None):
    from PIL import Image

    tags = Image.Exif()
    if exif:
        tags.load(exif)
    if xmp:
        tags[_XMP_TAG] = xmp
    return tags


def _opencv_writes_metadata() -> bool:
    import cv2

    return hasattr(cv2, "imencodeWithMetadata")


def _well_formed(icc: bytes | None) -> bool:
    """A profile whose header holds up (its length, the 'acsp' signature): libpng checks these
    and prints its own error line for one that does not; Pillow writes any bytes."""
    return icc is None or (len(icc) >= 132 and int.from_bytes(icc[:4], "big") == len(icc)
                           and icc[36:40] == b"acsp")


def _opencv_png(image: np.ndarray, metadata: ImageMetadata) -> bytes | None:
    """PNG through OpenCV's own metadata writer (OpenCV 4.12 and later); None when libpng
    refuses a block."""
    import cv2

    kinds, blocks = [], []
    for kind, block in ((cv2.IMAGE_METADATA_EXIF, metadata.exif),
                        (cv2.IMAGE_METADATA_XMP, metadata.xmp),
                        (cv2.IMAGE_METADATA_ICCP, metadata.icc_profile)):
        if block:
            kinds.append(kind)
            blocks.append(np.frombuffer(block, np.uint8))
    try:
        ok, encoded = cv2.imencodeWithMetadata(".png", image, kinds, blocks)
    except cv2.error:
        ok = False
    return encoded.tobytes() if ok else None
