"""The node's image cache: kernels, ramdisks and disk images fetched by URL, verified, kept."""

from nodeagent.images.cache import ImageCache
from nodeagent.images.source import ImageError, ImageSource

__all__ = ["ImageCache", "ImageError", "ImageSource"]
