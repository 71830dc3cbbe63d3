"""Image sizes from PNG/JPEG/GIF/WebP headers and the documented cost formulas."""
from __future__ import annotations

import base64
import struct

import pytest

from refimpl.chat_count import count_prompt_tokens
from refimpl.chat_errors import ImageSizeError
from refimpl.chat_images import (image_size_from_bytes, image_size_from_data_url, patch_image_patches,
                                 patch_image_tokens, tile_image_tokens)


def png(w, h):
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", w, h) + b"\x08\x02\x00\x00\x00"


def jpeg(w, h):
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc2" + struct.pack(">HBHH", 11, 8, h, w) + b"\x01\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def gif(w, h):
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00"


def webp_lossy(w, h):
    body = b"VP8 " + struct.pack("<I", 10) + b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", w, h)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_lossless(w, h):
    bits = (w - 1) | ((h - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_extended(w, h):
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize("make", [png, jpeg, gif, webp_lossy, webp_lossless, webp_extended])
def test_sizes_from_headers(make):
    assert image_size_from_bytes(make(1126, 488)) == (1126, 488)
    url = "data:image/x;base64," + base64.b64encode(make(300, 7000)).decode()
    assert image_size_from_data_url(url) == (300, 7000)


def test_unknown_bytes_and_remote_urls_raise_with_the_fix():
    with pytest.raises(ImageSizeError, match=r"not PNG, JPEG, GIF or WebP.*image_sizes=\{url: \(width, height\)\}"):
        image_size_from_data_url("data:image/bmp;base64," + base64.b64encode(b"BM" + bytes(40)).decode())
    req = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]}
    with pytest.raises(ImageSizeError, match=r"cannot be read from this URL at messages\[0\]\.content\[0\]\.image_url\.url: found 'https://example.com/cat.jpg'"):
        count_prompt_tokens(req)


def test_text_only_model_rejects_images():
    req = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png(1, 1)).decode()}}]}]}
    with pytest.raises(ImageSizeError, match=r"does not accept images at messages\[0\]\.content\[0\]"):
        count_prompt_tokens(req)


@pytest.mark.parametrize("w, h, detail, expected", [
    (1024, 1024, "high", 765), (2048, 4096, "high", 1105), (4096, 8192, "low", 85),
    (1, 1, "auto", 255), (512, 512, "high", 255), (513, 512, "high", 425), (768, 768, "high", 765),
])
def test_tile_formula(w, h, detail, expected):
    assert tile_image_tokens(w, h, detail, base=85, tile=170) == expected


@pytest.mark.parametrize("w, h, patches", [(1024, 1024, 1024), (1800, 2400, 1452), (32, 32, 1), (33, 1, 2),
                                           (10000, 10000, 1521)])
def test_patch_formula(w, h, patches):
    assert patch_image_patches(w, h) == patches
    assert patch_image_patches(w, h) <= 1536


def test_patch_multiplier_and_model_wiring():
    assert patch_image_tokens(1024, 1024, multiplier=1.62) == 1659
    url = "data:image/png;base64," + base64.b64encode(png(1024, 1024)).decode()
    req = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}]}
    assert count_prompt_tokens(req) == 3 + 1 + 1659 + 3
