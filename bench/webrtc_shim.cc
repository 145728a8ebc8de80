// A C face for Debian's libwebrtc-audio-processing (0.3: AEC and AECM), so that
// bench_aec.py can call WebRTC's echo cancellers through ctypes. Compiled by the
// benchmark itself into bench/out/; never part of the engine.
#include <cstdint>
#include <cstring>

#include "webrtc/common.h"
#include "webrtc/modules/audio_processing/include/audio_processing.h"
#include "webrtc/modules/interface/module_common_types.h"

namespace {
struct Handle {
    webrtc::AudioProcessing *apm;
    int rate;
};
}  // namespace

extern "C" {

// mobile = 0: the full AEC (delay-agnostic and extended filter as asked);
// mobile = 1: AECM (8 or 16 kHz only). NULL on failure.
void *ohb_webrtc_create(int rate, int mobile, int delay_agnostic, int extended_filter)
{
    webrtc::Config config;
    config.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(delay_agnostic != 0));
    config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(extended_filter != 0));
    webrtc::AudioProcessing *apm = webrtc::AudioProcessing::Create(config);
    if (!apm)
        return nullptr;
    int r;
    if (mobile) {
        r = apm->echo_control_mobile()->Enable(true);
        if (r == 0)
            r = apm->echo_control_mobile()->set_routing_mode(webrtc::EchoControlMobile::kSpeakerphone);
    } else {
        r = apm->echo_cancellation()->enable_drift_compensation(false);
        if (r == 0)
            r = apm->echo_cancellation()->set_suppression_level(webrtc::EchoCancellation::kModerateSuppression);
        if (r == 0)
            r = apm->echo_cancellation()->Enable(true);
    }
    if (r != 0) {
        delete apm;
        return nullptr;
    }
    Handle *h = new Handle{apm, rate};
    return h;
}

// One 10 ms frame: far is what was played, near what was captured. Returns the
// APM's error code (0 on success).
int ohb_webrtc_process(void *handle, const int16_t *near, const int16_t *far, int16_t *out,
                       int n, int stream_delay_ms)
{
    Handle *h = static_cast<Handle *>(handle);
    webrtc::AudioFrame render, capture;
    render.UpdateFrame(0, 0, far, (size_t)n, h->rate, webrtc::AudioFrame::kNormalSpeech,
                       webrtc::AudioFrame::kVadUnknown, 1);
    int r = h->apm->AnalyzeReverseStream(&render);
    if (r != 0)
        return r;
    h->apm->set_stream_delay_ms(stream_delay_ms);
    capture.UpdateFrame(0, 0, near, (size_t)n, h->rate, webrtc::AudioFrame::kNormalSpeech,
                        webrtc::AudioFrame::kVadUnknown, 1);
    r = h->apm->ProcessStream(&capture);
    std::memcpy(out, capture.data_, (size_t)n * sizeof(int16_t));
    return r;
}

void ohb_webrtc_destroy(void *handle)
{
    Handle *h = static_cast<Handle *>(handle);
    if (!h)
        return;
    delete h->apm;
    delete h;
}

}  // extern "C"
