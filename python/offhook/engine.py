"""offhook.engine: the C core's public Python face (names as in DESIGN.md)."""
from offhook._aec import EchoCanceller
from offhook._codecs import Codec
from offhook.media.codecs import CODECS, CodecInfo, codec

__all__ = ["CODECS", "Codec", "CodecInfo", "EchoCanceller", "codec"]
