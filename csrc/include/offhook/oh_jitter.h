/* Adaptive jitter buffer for one RTP stream (packet level).
 *
 * put() stores payloads as they arrive, in any order; get() is called once
 * per playout tick (frame_ms, on the receiver's clock) and says what to play
 * for that tick: a payload, or that the tick must be filled by concealment,
 * time-stretching or silence. The buffer stores payloads, never decodes: the
 * caller (the media engine's playout stage) decodes with oh_codec, conceals
 * with oh_codec_conceal / oh_codec_decode_fec and stretches with oh_tsm.
 *
 * Units: times in milliseconds on the receiver's clock (double, any origin,
 * non-decreasing across get() calls); RTP timestamps in clock_rate units;
 * delays in ms. Sequence numbers and timestamps wrap as in RTP.
 *
 * Thread safety: one thread per instance (put and get from the same thread,
 * or serialised by the caller). Only create/destroy allocate; put and get
 * never allocate, lock, block or print. See csrc/oh_jitter.c for the
 * algorithm and its limits. */
#ifndef OFFHOOK_OH_JITTER_H
#define OFFHOOK_OH_JITTER_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a tick plays. */
typedef enum oh_jitter_status {
    OH_JITTER_NORMAL = 0,      /* play frame.payload */
    OH_JITTER_LOST = 1,        /* conceal: the frame is missing while later ones are here */
    OH_JITTER_LATE = 2,        /* conceal: nothing is here yet and the frame's time has come */
    OH_JITTER_ACCELERATED = 3, /* play frame.payload and frame.skipped (and frame.more) in one
                                  tick: two ticks of audio time-compressed; skipped is NULL when
                                  the payload alone lasts two ticks; audio beyond two ticks goes
                                  on in the CONTINUED ticks after it */
    OH_JITTER_EXPANDED = 4,    /* nothing consumed: stretch the previous audio by one tick */
    OH_JITTER_SILENCE = 5,     /* no stream yet, or a DTX/comfort-noise gap: play silence, or
                                  the comfort noise of the last frame.comfort_noise payload */
    OH_JITTER_CONTINUED = 6    /* the payload handed out earlier still covers this tick (its
                                  start, when nmore says what follows it) */
} oh_jitter_status;

/* Payloads after the first in one tick (see oh_jitter_frame.more). */
#define OH_JITTER_MAX_MORE 3

typedef struct oh_jitter_config {
    int clock_rate;     /* RTP timestamp rate in Hz (8000 for G.711 and G.722, 48000 for Opus) */
    int frame_ms;       /* playout tick: 10 or 20 ms. Packets may be shorter than a tick (down to
                           a quarter of it) or not a whole number of ticks long (a peer's ptime of
                           10 or 30 ms on a 20 ms clock): a tick then carries several (more) */
    int min_delay_ms;   /* bounds of the target buffering delay (beyond the fastest packet) */
    int max_delay_ms;
    int capacity;       /* packets held at most: a power of two, 16..4096 */
    int max_payload;    /* bytes per payload, 1..65536; larger payloads are refused */
    double late_ratio;  /* late-loss the delay estimate aims for (0.0005..0.2) */
    double memory_s;    /* how long the delay statistics remember (s), 2..600 */
    int fec_delay;      /* 1: while the link loses packets (over 1.5 % of the recent ticks
                           concealed for packets that never came; back off under 0.75 %), aim
                           one packet later, so that the packet after a lost one is usually
                           here for its in-band FEC (Opus with FEC on at the sender). Costs a
                           packet's worth of delay on lossy links only; 0 (default): off */
} oh_jitter_config;

/* One payload of a tick after the first (oh_jitter_frame.more). */
typedef struct oh_jitter_part {
    const uint8_t *payload; /* NULL: the packet is missing, conceal samples of audio in its place */
    size_t len;
    uint16_t seq;
    uint32_t timestamp;
    int samples;            /* timestamp units it covers */
} oh_jitter_part;

/* One tick's instruction. Pointers point into the buffer and stay valid until
 * the next put() or get() on it. */
typedef struct oh_jitter_frame {
    oh_jitter_status status;
    const uint8_t *payload; /* NORMAL, ACCELERATED: the payload to decode, else NULL */
    size_t len;
    uint16_t seq;           /* NORMAL, ACCELERATED: the payload's; LOST with fec: the lost frame's */
    uint32_t timestamp;
    int samples;            /* timestamp units the payload covers */
    const uint8_t *skipped; /* ACCELERATED: the next payload, to be played in the same tick,
                               or NULL (payload lasts two ticks: play all of it in one) */
    size_t skipped_len;
    int comfort_noise;      /* SILENCE: 1 when payload is an RFC 3389 comfort-noise description
                               (put with OH_JITTER_COMFORT_NOISE): play the pause with that noise
                               from now until the next frame; 0 otherwise */
    const uint8_t *fec;     /* LOST: the payload that follows the lost frame when here (also
                               at the last frame of a burst), for oh_codec_decode_fec or
                               oh_codec_decode_after_gap (it stays in the buffer); else NULL */
    size_t fec_len;
    /* Packets shorter than a tick, or whose length is not a whole number of
     * ticks: what the tick plays after payload (and skipped), or after the
     * rest of a CONTINUED payload, until the tick (two ticks when
     * ACCELERATED) is full; in order, contiguous. A part without payload
     * was missing when its turn came: it is concealed (counted like a LOST
     * or LATE tick), and dropped as late if it comes. 0 with packets of
     * whole ticks. */
    oh_jitter_part more[OH_JITTER_MAX_MORE];
    int nmore;
} oh_jitter_frame;

typedef struct oh_jitter_stats {
    double current_delay_ms; /* buffering delay now (beyond the fastest packet seen) */
    double target_delay_ms;  /* what the estimator aims for */
    uint64_t received;       /* packets accepted */
    uint64_t played;         /* payloads handed out (each of a tick's counts) */
    uint64_t late;           /* packets that arrived after their playout time */
    uint64_t lost;           /* frames concealed that never arrived (so far) */
    uint64_t concealed;      /* ticks with status LOST or LATE, and missing parts of a tick */
    uint64_t accelerated;    /* ACCELERATED ticks */
    uint64_t expanded;       /* EXPANDED ticks, and ticks whose rest is stretched: a packet that
                                starts inside the tick is waited for, or put back on the grid */
    uint64_t silence;        /* SILENCE ticks */
    uint64_t duplicates;     /* packets dropped as duplicates */
    uint64_t overflow;       /* packets dropped because the buffer was full */
    uint64_t resyncs;        /* SSRC changes and timestamp jumps followed */
    uint32_t max_burst;      /* longest run of consecutive concealed ticks */
    uint64_t comfort_noise;  /* comfort-noise payloads handed out */
} oh_jitter_stats;

/* oh_jitter_put flags. */
#define OH_JITTER_MARKER 1        /* the RTP marker bit: a talkspurt starts */
#define OH_JITTER_COMFORT_NOISE 2 /* an RFC 3389 comfort-noise payload: a pause starts (or its
                                     noise changes); the ticks after it are SILENCE, not losses,
                                     until the next packet, however long that takes */

typedef struct oh_jitter oh_jitter;

/* 8000 Hz, 20 ms, delay 0..1000 ms, 128 packets of up to 512 bytes, 0.95 % late, 20 s memory. */
void oh_jitter_config_default(oh_jitter_config *cfg);
oh_status oh_jitter_create(const oh_jitter_config *cfg, oh_jitter **out);
void oh_jitter_destroy(oh_jitter *jb);

/* Forgets the stream and the delay statistics (a new call). */
void oh_jitter_reset(oh_jitter *jb);

/* Stores a payload received at arrival_ms. samples is the audio it holds in
 * timestamp units (0: infer from the timestamps of its neighbours). flags:
 * OH_JITTER_MARKER for the RTP marker bit (start of a talkspurt; 1 as
 * before), OH_JITTER_COMFORT_NOISE for a CN payload (its samples are
 * ignored). A change of ssrc re-synchronises.
 * Returns OH_OK also for packets dropped as duplicate, late or overflowing
 * (they are counted in the statistics); OH_EBUFSIZE when len > max_payload,
 * OH_EINVAL for bad arguments. */
oh_status oh_jitter_put(oh_jitter *jb, uint16_t seq, uint32_t timestamp, uint32_t ssrc, int flags,
                        const uint8_t *payload, size_t len, int samples, double arrival_ms);

/* What to play in the tick starting at now_ms; fills *frame. */
oh_status oh_jitter_get(oh_jitter *jb, double now_ms, oh_jitter_frame *frame);

/* A hint from whoever decodes: whether the audio playing now is active
 * speech (1) or a pause (0). While it is speech, get() postpones an
 * acceleration that can wait (the excess is under a tick beyond the
 * acceleration threshold, and no expansion in the last second is being
 * undone) for up to 2 s, so that the time compression falls into a pause.
 * Never hinted (the default after create and reset), nothing is postponed.
 * oh_playout gives this hint from the energy of what it plays. */
void oh_jitter_set_speech(oh_jitter *jb, int speech);

void oh_jitter_get_stats(const oh_jitter *jb, oh_jitter_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
