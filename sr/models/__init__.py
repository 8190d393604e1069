"""Pure network modules: the EDSR-baseline encoder, the MLP decoder and LIIF around them."""

from sr.models.liif import LIIF, LIIFConfig

__all__ = ["LIIF", "LIIFConfig"]
