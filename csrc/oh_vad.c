/* Energy voice activity detection with a tracked noise floor.
 *
 * Per frame: its level E (dBov). The noise floor N is the lowest E of the
 * last 3 s (minimum statistics in their simplest form, kept as the minima
 * of ten 300 ms blocks): speech, loud only in bursts with quieter frames
 * between its syllables, cannot pull the floor up, while a background that
 * really got louder is followed within 3 s. Frames of digital silence
 * (below -90 dBov: a source not yet playing, a muted microphone) say
 * nothing about the room and are left out of the floor; they are silence
 * anyway. Until the window has been filled once, the floor used is at
 * most -50 dBov (a quiet room): a call that starts talking at once has no
 * pause yet to learn the room from, and the lowest of its first speech
 * frames, taken for the floor, suppressed quieter syllables after it
 * (PESQ-WB of the first talkspurt in tests/test_media_comfort_noise.py:
 * 3.49 without the cap, 4.24 with it, as unsuppressed). A louder room is
 * then sent as it is for its first 3 s.
 * A sound that stays loud for longer than the window without a
 * dip (a held tone, music) becomes the floor and is then suppressed: this
 * detector is for speech, and off unless asked for.
 * A frame is active when E exceeds N by 9 dB and is above -60 dBov (below
 * that even a quiet room is silence); an active frame keeps the detector
 * active for a further 200 ms (hangover), because the ends of words decay
 * into the noise and cutting them is what listeners notice first. The
 * first 100 ms are active whatever they hold, while the floor has not been
 * seen. No look-ahead: a talkspurt's first frame is classified on its own
 * energy, so onsets are never delayed; a very soft onset costs at most the
 * frame it falls below the threshold in.
 *
 * The 9 dB margin and 200 ms hangover are the usual ballpark of energy
 * detectors, not tuned here: on the clip of tests/test_media_comfort_noise.py
 * (espeak speech around -20 dBov over white noise at -50) they leave at
 * least 50 of a 1.5 s pause's 75 frames unsent and both talkspurts within
 * 0.2 PESQ-WB of the unsuppressed call; other values were not compared. */
#include "offhook/oh_vad.h"

#include <math.h>

#include "oh_alloc.h"

#define THRESHOLD_DB 9.0
#define FLOOR_DBOV -60.0
#define DIGITAL_SILENCE_DBOV -90.0
#define BLOCK_MS 300
#define NBLOCKS 10
#define HANGOVER_MS 200
#define WARMUP_MS 100
#define NO_FLOOR -96.0
#define PRIOR_FLOOR_DBOV -50.0

struct oh_vad {
    int rate;
    int n;            /* samples per frame */
    int block_frames; /* frames per minimum block */
    int hangover;     /* frames */
    int warmup;       /* frames */
    double floor_db;  /* the noise floor, dBov */
    double block_min[NBLOCKS]; /* minima of the last full blocks (NO_FLOOR: none) */
    double cur_min;   /* of the block being filled */
    int in_block;     /* its frames so far */
    int next_block;   /* the slot the next full block goes to */
    int filled;       /* full blocks seen, saturating at NBLOCKS */
    int seen;         /* frames processed, saturating at warmup */
    int hold;         /* hangover frames left */
};

oh_status oh_vad_create(int sample_rate, int frame_samples, oh_vad **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (sample_rate < 8000 || sample_rate > 48000 || sample_rate % 100 ||
        (frame_samples != sample_rate / 100 && frame_samples != sample_rate / 50))
        return OH_EINVAL;
    oh_vad *vad = oh_alloc(sizeof *vad);
    if (!vad)
        return OH_ENOMEM;
    vad->rate = sample_rate;
    vad->n = frame_samples;
    int frame_ms = frame_samples * 1000 / sample_rate;
    vad->block_frames = BLOCK_MS / frame_ms;
    vad->hangover = HANGOVER_MS / frame_ms;
    vad->warmup = WARMUP_MS / frame_ms;
    oh_vad_reset(vad);
    *out = vad;
    return OH_OK;
}

void oh_vad_destroy(oh_vad *vad)
{
    oh_free(vad);
}

void oh_vad_reset(oh_vad *vad)
{
    vad->floor_db = NO_FLOOR;
    vad->seen = 0;
    vad->hold = 0;
    for (int i = 0; i < NBLOCKS; i++)
        vad->block_min[i] = NO_FLOOR;
    vad->cur_min = 0.0;
    vad->in_block = 0;
    vad->next_block = 0;
    vad->filled = 0;
}

/* Takes a frame's level into the block minima and returns the floor. */
static double track_floor(oh_vad *vad, double level)
{
    if (level < DIGITAL_SILENCE_DBOV)
        return vad->floor_db;
    vad->cur_min = vad->in_block ? fmin(vad->cur_min, level) : level;
    if (++vad->in_block == vad->block_frames) {
        vad->block_min[vad->next_block] = vad->cur_min;
        vad->next_block = (vad->next_block + 1) % NBLOCKS;
        vad->in_block = 0;
        if (vad->filled < NBLOCKS)
            vad->filled++;
    }
    double floor_db = vad->in_block ? vad->cur_min : 0.0;
    int any = vad->in_block > 0;
    for (int i = 0; i < NBLOCKS; i++) {
        if (vad->block_min[i] > NO_FLOOR) {
            floor_db = any ? fmin(floor_db, vad->block_min[i]) : vad->block_min[i];
            any = 1;
        }
    }
    return any ? floor_db : NO_FLOOR;
}

int oh_vad_process(oh_vad *vad, const int16_t *pcm)
{
    double e = 0.0;
    for (int i = 0; i < vad->n; i++)
        e += (double)pcm[i] * pcm[i];
    double level = 10.0 * log10(e / vad->n / (32767.0 * 32767.0) + 1e-10);
    vad->floor_db = track_floor(vad, level);
    if (vad->seen < vad->warmup) {
        vad->seen++;
        vad->hold = vad->hangover;
        return 1;
    }
    double floor_db = vad->filled < NBLOCKS && vad->floor_db > PRIOR_FLOOR_DBOV ? PRIOR_FLOOR_DBOV
                                                                                 : vad->floor_db;
    if (level > floor_db + THRESHOLD_DB && level > FLOOR_DBOV) {
        vad->hold = vad->hangover;
        return 1;
    }
    if (vad->hold > 0) {
        vad->hold--;
        return 1;
    }
    return 0;
}

double oh_vad_noise_dbov(const oh_vad *vad)
{
    return vad->floor_db;
}
