"""offhook.engine: the C core's public Python face (names as in DESIGN.md)."""
from offhook._aec import EchoCanceller
from offhook._codecs import Codec
from offhook._jitter import JitterBuffer, JitterStatus, Playout, TimeScaler
from offhook._mixer import ConferenceMixer
from offhook._resample import Resampler
from offhook._wav import WavReader, WavWriter
from offhook.media.codecs import CODECS, CodecInfo, codec
from offhook.media.tones import DtmfDetector, DtmfEvent, ToneGenerator, ToneSegment, dtmf_tones

__all__ = [
    "CODECS",
    "Codec",
    "CodecInfo",
    "ConferenceMixer",
    "DtmfDetector",
    "DtmfEvent",
    "EchoCanceller",
    "JitterBuffer",
    "JitterStatus",
    "Playout",
    "Resampler",
    "TimeScaler",
    "ToneGenerator",
    "ToneSegment",
    "WavReader",
    "WavWriter",
    "codec",
    "dtmf_tones",
]
