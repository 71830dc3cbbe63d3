"""Image input tokens: the image's size from its bytes, then OpenAI's documented cost formulas.

Source: OpenAI's "Images and vision" guide, section "Calculating costs" (platform.openai.com/
docs/guides/images-vision). Two formulas:

* Tile models (gpt-4o, gpt-4.1, gpt-4-turbo, o1, o3, gpt-5, ...): ``detail: low`` costs `base`.
  ``high``/``auto``: (1) fit within 2048 x 2048, (2) scale so the shortest side is 768 (never
  up), (3) cost ``base + tile * ceil(w/512) * ceil(h/512)``. Worked example: 2048 x 4096 ->
  1024 x 2048 -> 768 x 1536 -> 2 x 3 = 6 tiles -> 85 + 6 * 170 = 1105 tokens.
* Patch models (gpt-4.1-mini/nano, o4-mini, gpt-5-mini/nano): 32 px patches; more than 1536
  patches shrink the image (keeping whole patches) until at most 1536 fit; tokens are patches
  times a per-model multiplier.

Sizes come from the image bytes of ``data:`` URLs (PNG, JPEG, GIF and WebP headers are read
here; no imaging library needed). For other URLs the caller supplies the size.

>>> tile_image_tokens(1024, 1024, "high", base=85, tile=170)
765
>>> patch_image_patches(1800, 2400)
1452
"""
from __future__ import annotations

import base64
import binascii
import math
import struct

from .chat_errors import ImageSizeError

__all__ = ["image_size_from_bytes", "image_size_from_data_url", "tile_image_tokens",
           "patch_image_patches", "patch_image_tokens"]

_PATCH = 32
_MAX_PATCHES = 1536


def tile_image_tokens(width: int, height: int, detail: str, *, base: int, tile: int) -> int:
    """Tokens for one image on a tile model. `detail` is ``"low"``, ``"high"`` or ``"auto"``.

    `auto` is counted as `high`: the measured 1x1 PNG costs 85 + 170 with ``auto`` on gpt-4o
    (pamelafox/openai-messages-token-helper, verified against the API). Intermediate sizes are
    truncated to whole pixels, as in the cookbook's vision example.

    >>> tile_image_tokens(2048, 4096, "high", base=85, tile=170)
    1105
    >>> tile_image_tokens(4096, 8192, "low", base=85, tile=170)
    85
    """
    if detail == "low":
        return base
    w, h = width, height
    if max(w, h) > 2048:  # step 1: fit within a 2048 x 2048 square
        ratio = 2048 / max(w, h)
        w, h = int(w * ratio), int(h * ratio)
    if min(w, h) > 768:  # step 2: shortest side down to 768 (never up)
        ratio = 768 / min(w, h)
        w, h = int(w * ratio), int(h * ratio)
    tiles = math.ceil(w / 512) * math.ceil(h / 512)  # step 3: 512 px tiles
    return base + tile * tiles


def patch_image_patches(width: int, height: int) -> int:
    """Number of 32 px patches a patch model sees (at most 1536), before the model multiplier.

    Follows the guide's steps: if the raw patch count exceeds 1536, shrink by
    ``sqrt(32*32*1536 / (w*h))``, then shrink a little more so a whole number of patches fits
    the width or height, truncate to whole pixels, and count patches again (capped at 1536).

    >>> patch_image_patches(1024, 1024)
    1024
    """
    raw = math.ceil(width / _PATCH) * math.ceil(height / _PATCH)
    if raw <= _MAX_PATCHES:
        return raw
    shrink = math.sqrt(_PATCH * _PATCH * _MAX_PATCHES / (width * height))
    pw, ph = width * shrink / _PATCH, height * shrink / _PATCH  # fractional patches
    shrink *= min(math.floor(pw) / pw, math.floor(ph) / ph)  # keep whole patches
    w, h = int(width * shrink), int(height * shrink)
    return min(_MAX_PATCHES, math.ceil(w / _PATCH) * math.ceil(h / _PATCH))


def patch_image_tokens(width: int, height: int, *, multiplier: float) -> int:
    """Billed tokens for a patch model: patches x multiplier, rounded up (an estimate: the guide
    shows the product, e.g. 1024 x 1.62 -> "1659", without saying how fractions round).

    >>> patch_image_tokens(1024, 1024, multiplier=1.62)
    1659
    """
    return math.ceil(patch_image_patches(width, height) * multiplier - 1e-9)


# --- reading the size from the bytes ------------------------------------------------------------

def _png(b: bytes):
    if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and len(b) >= 24:
        return struct.unpack(">II", b[16:24])
    return None


def _gif(b: bytes):
    if b[:6] in (b"GIF87a", b"GIF89a") and len(b) >= 10:
        return struct.unpack("<HH", b[6:10])
    return None


def _jpeg(b: bytes):
    # Walk the marker segments to the first start-of-frame (SOF0..SOF15 except DHT/JPG/DAC).
    if b[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            i += 1
            continue
        marker = b[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2  # standalone markers / fill bytes
            continue
        (length,) = struct.unpack(">H", b[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def _webp(b: bytes):
    if b[:4] != b"RIFF" or b[8:12] != b"WEBP" or len(b) < 25:
        return None
    chunk = b[12:16]
    if chunk == b"VP8L":  # lossless: after the 0x2f signature, 14 bits width-1, 14 bits height-1
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if len(b) < 30:
        return None
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the 3-byte start code
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1, height-1
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    return None


def image_size_from_bytes(data: bytes) -> tuple[int, int] | None:
    """(width, height) from PNG, JPEG, GIF or WebP bytes, or None for another format.

    >>> image_size_from_bytes(b"GIF89a" + bytes([3, 0, 2, 0]))
    (3, 2)
    """
    for reader in (_png, _jpeg, _gif, _webp):
        size = reader(data)
        if size:
            return int(size[0]), int(size[1])
    return None


def image_size_from_data_url(url: str, *, where: str = "image_url.url") -> tuple[int, int]:
    """(width, height) of the image inside a base64 ``data:`` URL.

    Raises `ImageSizeError` when the URL is not base64 data or the format is not recognised.

    >>> image_size_from_data_url("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg==")
    (1, 1)
    """
    head, sep, payload = url.partition(",")
    if not (url.startswith("data:") and sep and head.endswith(";base64")):
        raise ImageSizeError("the image size cannot be read from this URL", where=where,
                             found=url[:60], allowed="a base64 data: URL (data:image/png;base64,...)",
                             fix="pass the size as image_sizes={url: (width, height)}")
    try:
        # the header is at the start: decode at most the first 64 KiB (whole 4-char groups)
        chunk = "".join(payload[:87384].split())
        data = base64.b64decode(chunk[: len(chunk) // 4 * 4], validate=False)
    except (binascii.Error, ValueError):
        data = b""
    size = image_size_from_bytes(data)
    if size is None:
        raise ImageSizeError("the image bytes are not PNG, JPEG, GIF or WebP", where=where,
                             found=head, allowed="PNG, JPEG, GIF or WebP data",
                             fix="convert the image, or pass image_sizes={url: (width, height)}")
    return size
