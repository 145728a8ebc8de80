"""offhook.engine: the C core's public Python face (names as in DESIGN.md)."""
from offhook._codecs import Codec
from offhook._resample import Resampler
from offhook.media.codecs import CODECS, CodecInfo, codec

__all__ = ["CODECS", "Codec", "CodecInfo", "Resampler", "codec"]
