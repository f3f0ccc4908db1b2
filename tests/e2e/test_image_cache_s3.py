"""The node's image cache fetches from Ironbark's own S3 through presigned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodeagent.images import ImageCache, ImageError, ImageSource


def test_presigned_get_from_ironbark_s3(s3: Any, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="emi-1/root.img", Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "images",
                                                          "Key": "emi-1/root.img"}, ExpiresIn=300)
    source = ImageSource(url, hashlib.sha256(data).hexdigest(), len(data))
    forged = ImageSource(url.replace("Signature=", "Signature=0"), "1" * 64, len(data))

    async def scenario() -> None:
        cache = ImageCache(tmp_path / "cache", 64 * 1024 * 1024,
                           client=httpx.AsyncClient(trust_env=False))
        paths = await asyncio.gather(*(cache.get(source) for _ in range(4)))
        assert cache.downloads == 1 and paths[0].read_bytes() == data
        with pytest.raises(ImageError, match="HTTP 403"):
            await cache.get(forged)
        await cache.close()

    asyncio.run(scenario())
