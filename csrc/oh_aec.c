/* Acoustic echo canceller: partitioned-block frequency-domain adaptive filter
 * with two-path step control, bulk delay search and residual echo suppression.
 *
 * Linear canceller. The echo path is modelled by a multidelay block
 * frequency-domain adaptive filter (MDF; Soo & Pang, IEEE Trans. ASSP 38(2),
 * 1990): the tail is cut into K partitions of one 10 ms block (N samples);
 * each partition is a filter in the frequency domain of an L = 2N point
 * FFT (160-960 points at 8-48 kHz: oh_fft's mixed-radix 2/3/4/5 transform;
 * padding to a power of two cost 60 % more bins in every per-bin loop and
 * 1.35x the CPU at 16 kHz), applied by overlap-save to the far-end spectra of the K most recent blocks.
 * Far spectra are computed once per block and kept in a history ring, so a
 * partition costs one complex multiply-add per bin. The gradient is
 * scaled per partition and bin by a Kalman gain (below) and constrained (a
 * partition's time taps past N zeroed) for every partition every block
 * while the filter converges; once it is good, only CONSTRAIN_GOOD
 * partitions per block, round-robin, as speexdsp's alternately-unconstrained
 * MDF does (a third less CPU, ~1 dB less double-talk ERLE).
 *
 * Step size: a diagonal frequency-domain Kalman filter (Enzner & Vary,
 * "Frequency-domain adaptive Kalman filter for acoustic echo control in
 * hands-free telephones", Signal Processing 86(6), 2006; partitioned form:
 * Kuech, Mabande & Enzner, "State-space architecture of the partitioned-
 * block-based acoustic echo controller", ICASSP 2014). Every partition and
 * bin keeps P, its expected squared misalignment; the gain is
 * P / (observed error power), the error power being the larger of the
 * smoothed |E|^2 and the residual echo P predicts. Where the error is
 * mostly residual echo, the uncertain partitions take nearly full steps;
 * where it is near speech or noise, steps fall (double talk needs no
 * detector). P starts from a room prior (flat for 30 ms, then -1 dB per
 * block), so the early response - where a room's energy is - converges
 * first; it shrinks with each update (by a quarter of what the Kalman model
 * says: the model ignores the gradient constraint and the coupling between
 * partitions, and the full decrement froze the filter early) and grows by
 * a process noise of 1e-3 |W|^2 per block (1e-4 once converged), to track
 * slow changes. It
 * replaced a leak-regression step (Valin, IEEE Trans. ASLP 15(3), 2007)
 * with proportionate weights: linear ERLE on the far single-talk scenario
 * went from 20 to 31 dB (12 s), 15 dB reached in 1.75 s instead of 2.95 s.
 *
 * Two filters run side by side (the two-path idea of Ochiai et al., 1977):
 * a background filter adapts; a foreground filter produces the output and
 * only takes the background's coefficients when the background has been
 * clearly better for a few blocks; a background that became clearly worse
 * is reset to the foreground (a "divergence reset"), and a foreground that
 * adds echo (error above the microphone: the echo path changed) is
 * discarded with the background, and P goes back to its start.
 *
 * Bulk delay. Log band energies (300 Hz-4 kHz) of far and near blocks are
 * correlated at every lag of 0..max_delay in 10 ms steps, with recursive
 * averaging (the family of WebRTC's binary-spectrum delay estimator, which
 * thresholds the same band energies). When the best lag is confident,
 * stable for 100 ms, and not covered by the filter, the filter window is
 * moved to start two blocks before it (a block-multiple shift of the
 * partitions) and adaptation restarts. When a converged filter's loudest
 * partition is two or more blocks later than that margin, the window moves
 * up to it keeping what the filter learnt: the partitions before the
 * direct path are wasted tail, and the room prior expects the echo in the
 * first ones (an echo 65 ms late through a 150 ms room: 30-37 dB of ERLE in
 * seconds 3-7 before; now 28 in the second it moves, then 47-55). The
 * delay search's peak would decide it too, but wanders in double talk
 * (double-talk PESQ 2.6 -> 1.25 when it did).
 *
 * Residual echo suppression. The foreground's error and echo estimate are
 * analysed with a sine window of 2N (50 % overlap, perfect reconstruction by
 * overlap-add: one block of latency). Per bin, the residual echo is |Y|^2
 * times the largest of (a) the per-bin leak regression, (b) the residual-
 * to-echo-estimate power ratio learnt only while the linear filter removes
 * more than 6 dB (echo dominates, so near speech cannot teach it to
 * over-suppress) and (c) a floor of -10 dB; it is held with a decay of 0.9
 * per block in power, for reverberation. The gain is a Wiener gain on a
 * decision-directed signal-to-residual ratio (Ephraim & Malah, IEEE Trans.
 * ASSP 32(6), 1984), floored at -40 dB; at equal double-talk PESQ it gave
 * 2-3 dB more ERLE than power subtraction. Comfort noise
 * at a minimum-tracked noise floor fills what the gain removes, so the line
 * never goes dead. The hold and the floor were the two settings that
 * mattered on the benchmark: together +12 dB of ERLE and +0.3 double-talk
 * PESQ over a 1-block hold and a -23 dB floor.
 *
 * Until the linear filter removes ~15 dB (start, after an echo-path change
 * or a delay move, or when loudspeaker distortion or clock drift keep it
 * poor), and whenever the output filter's error exceeds the microphone
 * signal (the path just changed) - but only where the microphone's band
 * envelopes follow the far end's at all (the delay search's correlation,
 * after the first 0.5 s; a far end the microphone never hears, such as
 * background noise on a headset call, otherwise taught a path gain from near
 * speech and cost it ~30 dB) - the residual is also estimated as the echo
 * the far end should produce: far power in the filter window times a
 * per-bin path gain learnt as a ratio of smoothed sums (while starting, or
 * while echo dominates the microphone), over-estimated 30x. Bins where the
 * error is louder than the microphone are scaled down to the microphone's
 * level first. Once the linear filter is good (more than 16 dB on the
 * blocks where it removes more than 13 dB), the suppressor's over-
 * estimation, residual floor and hold relax (0.7 -> 0.2, -10 -> -13 dB,
 * 0.9 -> 0.8 per block): that, on the better linear filter, took double-talk
 * PESQ from 1.9 to 2.6 at ~41 dB ERLE. This is what WebRTC's suppressors do
 * all the time; here it stops once the filter is good, which is how double
 * talk keeps its quality.
 *
 * Clock drift (playback and capture clocks apart by up to ~0.1 %). Every
 * DRIFT_SNAP blocks of far activity the background filter is compared with
 * a snapshot: the per-bin angle of sum_k conj(S_k) W_k, regressed on the
 * bin frequency (weighted by its magnitude, bins up to 4 kHz so that
 * 0.1 % cannot wrap the phase), is the delay change of the
 * echo path, i.e. the drift left over. A first-order loop (gain 1/2 per
 * 0.1 s) adds it to the drift applied. While it stays under DRIFT_ON
 * (30 ppm) or the filter has converged, nothing is applied and the far
 * end goes to the filter untouched (no drift stays bit-exact); once
 * engaged, the far reference is read from a FIFO at 1 + eps samples per
 * sample through a 16-tap Hann-windowed sinc interpolator (64 tabulated
 * phases, linear in between). The filter's own phase rotation is a weak
 * drift sensor while it cannot converge (it shows ~30 % of the drift), so
 * the closed loop bootstraps: it locks in ~2 s at 0.05 %, ~4 s at 0.1 %
 * (a reset of a filter that lost the path keeps the drift learnt). When the
 * reading position runs into the newest far sample, no block enters the
 * spectra ring that block and the partitions move one block earlier
 * (two blocks and one block later when it lags by 1.5 blocks): the ring
 * stays aligned with the filter, so the fold costs nothing. The phase-
 * rotation idea on the filter itself (rotating the partitions) was tried
 * first and failed: a circular rotation cuts the direct path at a
 * partition boundary. Once the filter is converged the drift estimate is
 * averaged longer (DRIFT_LOCK_N) and stays within ~0.1 ppm. While drift is
 * compensated, the suppressor relaxes only 3/4 of the way (DRIFT_GOOD):
 * fully relaxed, double talk under +0.05 % kept 1 dB less ERLE for +0.16
 * PESQ, but under -0.05 % 3.7 dB less (30.9 dB).
 *
 * Slips (oh_aec_slip, oh_aec_process_partial). The caller's rings can
 * insert or drop samples on either side: a capture gap filled with silence
 * whose samples come later, captured samples shed to cut latency, silence
 * played in an underrun, a far frame never played. Each moves the echo by
 * exactly that many samples against the reference, and a converged filter
 * took a second or more to find it again (a busy machine's device thread
 * slipped about once a second: the linear filter never converged, ~20 dB
 * instead of ~45). Told, the canceller moves the echo model instead: whole
 * blocks move the window (and the delay search's correlations with it), the
 * rest shifts the filters' impulse responses (to the time domain and back,
 * once per slip). A capture slip holds from the next frame on; a playback
 * slip when its echo arrives (the output filter's loudest partition later),
 * and until its echo has crossed the whole response, which one move cannot
 * follow, the output is suppressed as for a lost filter. Gap blocks (no
 * microphone signal) take the far end but neither adapt nor judge: zeros
 * against an active far end look like a vanished echo path and reset the
 * filters. Slipped by +100, +480, -400 and -150 samples on the capture side
 * and -160, +240 on the playback side, the C test's linear ERLE is 64 dB
 * from 0.1 s after each; untold, ~1 dB.
 *
 * Limits (measured in bench/RESULTS.md). The linear filter reaches ~31 dB
 * on 12 s of speech through a 0.25 s RT60 room and is still improving;
 * the suppressor does the rest. At 0.05 % drift the loop locks in ~2 s and
 * the linear filter passes 18 dB at ~4 s and 30 dB at ~8 s; at 0.1 % it
 * locks in ~4 s and passes 18 dB at ~6 s. Until then the far-power estimate
 * suppresses the echo, as a half-duplex would (near speech in double talk
 * is lost there, as WebRTC's AEC loses it all the time), as it does during
 * distortion or the first ~0.5 s after a path change.
 * Drift is only looked for before the filter converges: drift that starts
 * later (a device switched mid-call) is seen only after the filter has
 * been lost. Persistent fast playback eventually needs echo earlier than
 * the reference (no bulk delay left): not handled. CPU at 16 kHz with a
 * 200 ms tail is ~0.95x speexdsp's (the interpolator costs nothing until
 * drift is found; ~16 multiply-adds per sample after). */
#include "offhook/oh_aec.h"

#include <math.h>
#include <string.h>

#include "oh_alloc.h"
#include "oh_simd.h"
#include "offhook/oh_fft.h"

/* Delay search: log band energies in NBANDS bands; the filter window starts
 * MARGIN_BLOCKS before the correlation peak, to keep the direct path in. */
#define NBANDS 16
#define MARGIN_BLOCKS 2
/* Step control (a diagonal frequency-domain Kalman filter): each partition
 * and bin keeps its expected squared misalignment P, starting at START_P
 * times the room prior. P shrinks by KAPPA times what the Kalman model
 * says an update removes - the model is optimistic (it ignores the gradient
 * constraint and the coupling between partitions), and the full decrement
 * froze the filter early - and grows by PROCESS_Q |W|^2 per adapting block,
 * so a slowly changing path is tracked. The observation noise is the
 * smoothed error power times ERR_SCALE = L/N (the zero-padded error spectrum
 * holds N/L of a full block's energy). */
#define START_P 1.0f
#define KAPPA 0.25f
#define PROCESS_Q 1e-3f
/* Once converged, a tenth: the misalignment P no longer regrows within a
 * few seconds of double talk to the point where near speech gets full
 * steps (double talk: 38.8 -> 40.1 dB ERLE, PESQ 2.45 -> 2.60). An echo-
 * path change clears the converged state and brings PROCESS_Q back. */
#define PROCESS_Q_CONVERGED 1e-4f
#define ERR_SMOOTH 0.5f
#define CALIBRATE_BLOCKS 10
/* Suppressor: over-estimation factor of the residual echo, the floor of the
 * residual as a fraction of the echo estimate's power (-10 dB), and the
 * per-block decay of the held residual estimate (reverberation past the echo
 * estimate's frame; 0.9 per 10 ms is ~ -4.6 dB per 100 ms) - while the linear
 * filter is poor. Once it is good (GOOD_LO..GOOD_HI dB of linear ERLE,
 * measured on blocks where it removes more than 13 dB, so that near speech
 * in double talk does not count), they move to the _GOOD values: less
 * suppression, better double talk. */
#define SUP_BETA 0.7f
#define LEAK_FLOOR 0.1f
#define SUP_DECAY 0.9f
#define SUP_BETA_GOOD 0.2f
#define LEAK_FLOOR_GOOD 0.05f
#define SUP_DECAY_GOOD 0.8f
#define GOOD_GATE 0.05f
#define GOOD_LO 10.0f
#define GOOD_HI 16.0f
/* Decision-directed smoothing of the signal-to-residual ratio. */
#define GAIN_DD 0.7f
/* The output filter is thrown away when its error exceeds the microphone
 * signal by this power ratio for this many far-active blocks. */
#define FG_BAD_RATIO 1.25f
#define FG_BAD_BLOCKS 12
/* Linear ERLE (power ratio, ~15 dB) at which the filter counts as
 * converged: below it - or while the output filter's error exceeds the
 * microphone by LOST_RATIO (smoothed), the path having changed under it -
 * the suppressor also trusts the echo predicted from the far-end power and
 * the learnt path gain, over-estimated RAW_OVER times (there is little to
 * protect: a filter this poor leaves the line unusable anyway). */
#define CONVERGED_ERLE 30.0f
/* Under compensated drift the filter re-adapts after the loop locks and
 * passes 15 dB while still improving quickly; declaring it converged there
 * dropped the far-power estimate too soon (31 instead of 37 dB of ERLE in
 * double talk under 0.05 % drift). */
#define CONVERGED_ERLE_DRIFT 60.0f
#define RAW_OVER 30.0f
#define ECHO_RHO 0.2f
#define ECHO_TRUST 50
#define LOST_RATIO 1.1f
/* Gradient constraints per block, round-robin over the partitions: all K
 * (the fully constrained MDF: best convergence, 2 FFTs per partition) until
 * the filter is good, then CONSTRAIN_GOOD (speexdsp constrains one; the
 * unconstrained updates in between cost ~1 dB of double-talk ERLE here and
 * save a third of the CPU). */
#define CONSTRAIN_GOOD 4
/* Clock drift: a windowed-sinc fractional-delay interpolator (2*RS_HALF taps,
 * RS_PHASES tabulated phases, linear between them) reads the far end at
 * 1 + eps samples per sample. eps is the drift estimated from the phase
 * rotation of the background filter over DRIFT_SNAP blocks; it is applied
 * only once its magnitude exceeds DRIFT_ON (hysteresis: no drift stays
 * bit-exact). */
#define RS_HALF 8
#define RS_PHASES 64
#define DRIFT_SNAP 10
#define DRIFT_ON 30e-6
#define DRIFT_MIN_N 8
#define DRIFT_MAX_N 2
/* Once the filter has converged, the drift estimate averages over up to
 * DRIFT_LOCK_N readings (1.6 s) instead of 2: it settles within ~0.1 ppm
 * instead of wandering by ~5 ppm in double talk. */
#define DRIFT_LOCK_N 16
#define DRIFT_GOOD 0.75f
/* Playback slips (oh_aec_slip) that can wait for their echo at once. */
#define SLIPS_PENDING 8
/* How often a converged filter's window is checked for wasted partitions. */
#define TIGHTEN_BLOCKS 50

struct oh_aec {
    oh_aec_config cfg;
    int N, L, nb, K, nsub, H, dmax;
    float err_scale;       /* ERR_SCALE below: L/N */
    oh_fft *fft;
    /* far end */
    float *xtime;          /* L most recent far samples */
    float *xre, *xim;      /* H spectra ring, nb each */
    long t;                /* block counter */
    /* filters */
    float *wre, *wim;      /* background, K*nb */
    float *fre, *fim;      /* foreground, K*nb */
    float *psum;           /* per-bin sum over partitions of |X_k|^2 */
    float *pmis;           /* K*nb: expected |H_k - W_k|^2 (misalignment) */
    float *phi, *ebs;      /* per bin: expected residual echo, smoothed |E_b|^2 */
    int p_fresh;           /* far-active blocks since P was reset */
    float p_err, p_far;    /* their error and far powers */
    float *mu;             /* per-bin Kalman gain denominator, inverted */
    float *prior;          /* per-partition prior share of the echo energy */
    float *pey_f, *pyy_f, *leak_f; /* per-bin leak regression */
    float *ry_num, *ry_den;
    float *e_prev;
    float *erl_num, *erl_den; /* per-bin echo path gain, smoothed |D|^2 and far power */
    float *dd_cur;         /* this block's |D|^2 per bin */ /* per-bin echo estimate and residual powers, far-only */
    int constrain_next;
    /* scratch */
    float *tmp, *tmp2;
    float *are, *aim, *bre, *bim, *cre, *cim, *dre, *dim;
    float *yb, *yf, *eb, *ef, *dblk;
    /* suppressor */
    float *win, *e_hist, *y_hist, *d_hist, *ola;
    float *ee_mean, *yy_mean, *noise, *rs, *gain;
    int noise_init;
    unsigned long long rng;
    /* leak and two-path */
    float pey, pyy, leak;
    float good;            /* 0..1: how good the linear filter is */
    float q_num, q_den;    /* linear ERLE while echo dominates: is the filter good? */
    float sd_s, seb_s, sef_s, sout_s, sdl_s, sdo_s, so_s;
    int bg_better, bg_worse, fg_bad;
    int converged, poor;
    /* delay search */
    int band_lo[NBANDS + 1];
    float *far_logb;       /* (dmax+1) * NBANDS ring */
    float *corr;           /* dmax+1 */
    float far_mean[NBANDS], near_mean[NBANDS];
    float far_var, near_var;
    int D, cand, cand_count, far_frames, mean_frames;
    float rho;             /* far/near envelope correlation at the best lag: is there echo at all? */
    int far_blocks;        /* blocks with far power in the filter window, since reset */
    /* clock drift */
    long tx;               /* far blocks pushed into the spectra ring */
    float *fq;             /* far FIFO, FQ samples */
    int FQ;
    long fw;               /* far samples written */
    double fp;             /* interpolator read position (absolute, samples) */
    double eps;            /* applied drift: read rate - 1 */
    int rs_on;
    float *rs_tab;         /* (RS_PHASES + 1) * 2 RS_HALF */
    float *rblk;           /* N: one resampled block */
    float *snre, *snim;    /* K*nb: background filter snapshot */
    float *taps;           /* K*N: a filter in the time domain, for move_echo */
    /* playback slips (oh_aec_slip) waiting for their echo to arrive */
    long pending_due[SLIPS_PENDING];
    int pending_samples[SLIPS_PENDING];
    int n_pending;
    long guard_until;      /* block until which a playback slip's transition is suppressed as a lost filter */
    long snap_t;
    int snap_valid, drift_n, drift_m;
    double drift_est;
    /* stats */
    oh_aec_stats st;
};

void oh_aec_config_default(oh_aec_config *cfg)
{
    cfg->sample_rate = 16000;
    cfg->frame_size = 160;
    cfg->tail_ms = 128;
    cfg->max_delay_ms = 500;
    cfg->suppression = 1;
    cfg->comfort_noise = 1;
}

static void *alloc_floats(size_t n, int *failed)
{
    void *p = oh_alloc(n * sizeof(float));
    if (!p)
        *failed = 1;
    return p;
}

void oh_aec_destroy(oh_aec *a)
{
    if (!a)
        return;
    oh_fft_destroy(a->fft);
    float **bufs[] = {&a->xtime, &a->xre, &a->xim, &a->wre, &a->wim, &a->fre, &a->fim,
                      &a->psum, &a->mu, &a->tmp, &a->tmp2, &a->are, &a->aim, &a->bre,
                      &a->bim, &a->cre, &a->cim, &a->dre, &a->dim, &a->yb, &a->yf, &a->eb,
                      &a->ef, &a->dblk, &a->win, &a->e_hist, &a->y_hist, &a->d_hist, &a->ola,
                      &a->ee_mean, &a->yy_mean, &a->noise, &a->rs, &a->gain, &a->far_logb,
                      &a->corr, &a->prior, &a->pey_f, &a->pyy_f, &a->leak_f, &a->ry_num, &a->ry_den, &a->e_prev, &a->erl_num, &a->erl_den, &a->dd_cur, &a->pmis, &a->phi, &a->ebs, &a->fq, &a->rs_tab, &a->rblk, &a->snre, &a->snim, &a->taps};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        oh_free(*bufs[i]);
    oh_free(a);
}

oh_status oh_aec_create(const oh_aec_config *cfg, oh_aec **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg)
        return OH_EINVAL;
    int fs = cfg->sample_rate;
    if (fs != 8000 && fs != 16000 && fs != 32000 && fs != 48000)
        return OH_EINVAL;
    int N = fs / 100;
    if (cfg->frame_size != N && cfg->frame_size != 2 * N)
        return OH_EINVAL;
    if (cfg->tail_ms < 64 || cfg->tail_ms > 500 || cfg->max_delay_ms < 0 || cfg->max_delay_ms > 500)
        return OH_EINVAL;
    oh_aec *a = oh_alloc(sizeof *a);
    if (!a)
        return OH_ENOMEM;
    a->cfg = *cfg;
    a->N = N;
    a->nsub = cfg->frame_size / N;
    int L = 2 * N;
    a->L = L;
    a->nb = L / 2 + 1;
    a->err_scale = (float)L / (float)N;
    a->K = (cfg->tail_ms + 9) / 10;
    a->dmax = cfg->max_delay_ms / 10;
    a->H = a->K + a->dmax + 1;
    size_t nb = (size_t)a->nb, K = (size_t)a->K, H = (size_t)a->H;
    oh_status s = oh_fft_create((size_t)L, &a->fft);
    if (s != OH_OK) {
        oh_aec_destroy(a);
        return s;
    }
    int failed = 0;
    a->xtime = alloc_floats((size_t)L, &failed);
    a->xre = alloc_floats(H * nb, &failed);
    a->xim = alloc_floats(H * nb, &failed);
    a->wre = alloc_floats(K * nb, &failed);
    a->wim = alloc_floats(K * nb, &failed);
    a->fre = alloc_floats(K * nb, &failed);
    a->fim = alloc_floats(K * nb, &failed);
    float **bins[] = {&a->psum, &a->mu, &a->are, &a->aim, &a->bre, &a->bim, &a->cre, &a->cim,
                      &a->dre, &a->dim, &a->ee_mean, &a->yy_mean, &a->noise, &a->rs, &a->gain};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++)
        *bins[i] = alloc_floats(nb, &failed);
    a->tmp = alloc_floats((size_t)L, &failed);
    a->tmp2 = alloc_floats((size_t)L, &failed);
    float **blocks[] = {&a->yb, &a->yf, &a->eb, &a->ef, &a->dblk, &a->ola};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        *blocks[i] = alloc_floats((size_t)N, &failed);
    float **hist[] = {&a->win, &a->e_hist, &a->y_hist, &a->d_hist};
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        *hist[i] = alloc_floats(2 * (size_t)N, &failed);
    a->pmis = alloc_floats(K * nb, &failed);
    a->phi = alloc_floats(nb, &failed);
    a->ebs = alloc_floats(nb, &failed);
    a->prior = alloc_floats(K, &failed);
    a->pey_f = alloc_floats(nb, &failed);
    a->pyy_f = alloc_floats(nb, &failed);
    a->leak_f = alloc_floats(nb, &failed);
    a->ry_num = alloc_floats(nb, &failed);
    a->e_prev = alloc_floats(nb, &failed);
    a->erl_num = alloc_floats(nb, &failed);
    a->erl_den = alloc_floats(nb, &failed);
    a->dd_cur = alloc_floats(nb, &failed);
    a->ry_den = alloc_floats(nb, &failed);
    a->far_logb = alloc_floats(((size_t)a->dmax + 1) * NBANDS, &failed);
    a->corr = alloc_floats((size_t)a->dmax + 1, &failed);
    a->FQ = 4 * N + 4 * RS_HALF;
    a->fq = alloc_floats((size_t)a->FQ, &failed);
    a->rs_tab = alloc_floats((size_t)(RS_PHASES + 1) * 2 * RS_HALF, &failed);
    a->rblk = alloc_floats((size_t)N, &failed);
    a->snre = alloc_floats(K * nb, &failed);
    a->snim = alloc_floats(K * nb, &failed);
    a->taps = alloc_floats(K * (size_t)N, &failed);
    if (failed) {
        oh_aec_destroy(a);
        return OH_ENOMEM;
    }
    float psum_prior = 0.0f;
    for (int k = 0; k < a->K; k++) {
        a->prior[k] = k < 3 ? 1.0f : powf(10.0f, -0.1f * (float)(k - 2));
        psum_prior += a->prior[k];
    }
    for (int k = 0; k < a->K; k++)
        a->prior[k] /= psum_prior;
    for (int j = 0; j <= RS_PHASES; j++) {
        double ph = (double)j / RS_PHASES;
        for (int k = 0; k < 2 * RS_HALF; k++) {
            double u = (double)(k - RS_HALF + 1) - ph, v = 1.0;
            if (fabs(u) > 1e-9)
                v = sin(3.14159265358979323846 * u) / (3.14159265358979323846 * u);
            v *= 0.5 + 0.5 * cos(3.14159265358979323846 * u / RS_HALF);
            a->rs_tab[j * 2 * RS_HALF + k] = (float)v;
        }
    }
    for (int n = 0; n < 2 * N; n++)
        a->win[n] = (float)sin(3.14159265358979323846 * (n + 0.5) / (2.0 * N));
    /* Bands: 300 Hz up to 4 kHz (or 200 Hz below Nyquist), log-spaced. */
    double lo = 300.0, hi = fs / 2 - 200.0 < 4000.0 ? fs / 2 - 200.0 : 4000.0;
    for (int b = 0; b <= NBANDS; b++) {
        double f = lo * pow(hi / lo, (double)b / NBANDS);
        int k = (int)(f * L / fs + 0.5);
        if (b > 0 && k <= a->band_lo[b - 1])
            k = a->band_lo[b - 1] + 1;
        a->band_lo[b] = k;
    }
    oh_aec_reset(a);
    *out = a;
    return OH_OK;
}

/* Start-up misalignment: the echo path is unknown, expected to be spread
 * over the partitions as the room prior says. */
static void reset_misalignment(oh_aec *a)
{
    size_t nb = (size_t)a->nb;
    for (int k = 0; k < a->K; k++)
        for (size_t i = 0; i < nb; i++)
            a->pmis[(size_t)k * nb + i] = START_P * a->prior[k];
    a->p_fresh = 0;
    a->p_err = a->p_far = 0.0f;
}

/* The first far-active blocks after a reset measure how loud the echo
 * path is (all of the error is echo then): the start misalignment is raised
 * to it where START_P underestimates a loud path, which would otherwise
 * make the first steps too small. */
static void calibrate_misalignment(oh_aec *a)
{
    size_t nb = (size_t)a->nb;
    float se = 0.0f, sx = 0.0f;
    for (size_t i = 0; i < nb; i++) {
        se += a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
        sx += a->psum[i];
    }
    a->p_err += se;
    a->p_far += sx;
    float p0 = a->err_scale * (float)a->K * a->p_err / (a->p_far + 1.0f);
    if (p0 > START_P) {
        for (int k = 0; k < a->K; k++)
            for (size_t i = 0; i < nb; i++) {
                float *p = &a->pmis[(size_t)k * nb + i];
                if (*p < p0 * a->prior[k])
                    *p = p0 * a->prior[k];
            }
    }
    a->p_fresh++;
}

void oh_aec_reset(oh_aec *a)
{
    size_t nb = (size_t)a->nb, K = (size_t)a->K, H = (size_t)a->H;
    size_t N = (size_t)a->N, L = (size_t)a->L;
    memset(a->xtime, 0, L * sizeof(float));
    memset(a->xre, 0, H * nb * sizeof(float));
    memset(a->xim, 0, H * nb * sizeof(float));
    memset(a->wre, 0, K * nb * sizeof(float));
    memset(a->wim, 0, K * nb * sizeof(float));
    memset(a->fre, 0, K * nb * sizeof(float));
    memset(a->fim, 0, K * nb * sizeof(float));
    memset(a->e_hist, 0, 2 * N * sizeof(float));
    memset(a->y_hist, 0, 2 * N * sizeof(float));
    memset(a->d_hist, 0, 2 * N * sizeof(float));
    memset(a->ola, 0, N * sizeof(float));
    memset(a->ee_mean, 0, nb * sizeof(float));
    memset(a->yy_mean, 0, nb * sizeof(float));
    memset(a->noise, 0, nb * sizeof(float));
    memset(a->rs, 0, nb * sizeof(float));
    memset(a->pey_f, 0, nb * sizeof(float));
    memset(a->pyy_f, 0, nb * sizeof(float));
    memset(a->leak_f, 0, nb * sizeof(float));
    memset(a->ry_num, 0, nb * sizeof(float));
    memset(a->e_prev, 0, nb * sizeof(float));
    memset(a->ry_den, 0, nb * sizeof(float));
    memset(a->far_logb, 0, ((size_t)a->dmax + 1) * NBANDS * sizeof(float));
    memset(a->corr, 0, ((size_t)a->dmax + 1) * sizeof(float));
    memset(a->far_mean, 0, sizeof a->far_mean);
    memset(a->near_mean, 0, sizeof a->near_mean);
    for (size_t i = 0; i < nb; i++)
        a->gain[i] = 1.0f;
    memset(a->erl_num, 0, nb * sizeof(float));
    memset(a->erl_den, 0, nb * sizeof(float));
    reset_misalignment(a);
    memset(a->ebs, 0, nb * sizeof(float));
    a->t = 0;
    a->tx = 0;
    a->n_pending = 0;
    a->guard_until = 0;
    memset(a->fq, 0, (size_t)a->FQ * sizeof(float));
    a->fw = 0;
    a->fp = 0.0;
    a->eps = 0.0;
    a->rs_on = 0;
    a->snap_valid = 0;
    a->snap_t = 0;
    a->drift_n = 0;
    a->drift_m = 0;
    a->drift_est = 0.0;
    a->constrain_next = 0;
    a->noise_init = 0;
    a->rng = 0x9E3779B97F4A7C15ULL;
    a->pey = 0.0f;
    a->pyy = 0.0f;
    a->leak = 0.0f;
    a->sd_s = a->seb_s = a->sef_s = a->sout_s = a->sdl_s = a->sdo_s = a->so_s = 0.0f;
    a->bg_better = a->bg_worse = a->fg_bad = 0;
    a->converged = 0;
    a->q_num = a->q_den = 0.0f;
    a->good = 0.0f;
    a->poor = 0;
    a->far_var = a->near_var = 0.0f;
    a->D = 0;
    a->cand = -1;
    a->cand_count = 0;
    a->far_frames = 0;
    a->rho = 0.0f;
    a->far_blocks = 0;
    a->mean_frames = 0;
    memset(&a->st, 0, sizeof a->st);
}

int oh_aec_latency(const oh_aec *a)
{
    return a->cfg.suppression ? a->N : 0;
}

void oh_aec_get_stats(const oh_aec *a, oh_aec_stats *out)
{
    *out = a->st;
}

static float power_of(const float *x, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static float rand_unit(unsigned long long *state)
{
    unsigned long long x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (float)((x * 2685821657736338717ULL) >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

/* Y_b = sum_k W_k X_k and Y_f = sum_k F_k X_k, plus sum_k |X_k|^2 and the
 * residual echo the misalignment predicts, Phi = sum_k P_k |X_k|^2. */
OH_SIMD_CLONES
static void filter_outputs(oh_aec *a)
{
    int nb = a->nb;
    float *restrict ybr = a->are, *restrict ybi = a->aim;
    float *restrict yfr = a->bre, *restrict yfi = a->bim;
    float *restrict ps = a->psum, *restrict ph = a->phi;
    memset(ybr, 0, (size_t)nb * sizeof(float));
    memset(ybi, 0, (size_t)nb * sizeof(float));
    memset(yfr, 0, (size_t)nb * sizeof(float));
    memset(yfi, 0, (size_t)nb * sizeof(float));
    memset(ps, 0, (size_t)nb * sizeof(float));
    memset(ph, 0, (size_t)nb * sizeof(float));
    for (int k = 0; k < a->K; k++) {
        long slot = ((a->tx - 1 - a->D - k) % a->H + a->H) % a->H;
        const float *restrict xr = a->xre + slot * nb, *restrict xi = a->xim + slot * nb;
        const float *restrict wr = a->wre + (size_t)k * nb, *restrict wi = a->wim + (size_t)k * nb;
        const float *restrict fr = a->fre + (size_t)k * nb, *restrict fi = a->fim + (size_t)k * nb;
        const float *restrict pm = a->pmis + (size_t)k * nb;
        for (int i = 0; i < nb; i++) {
            ybr[i] += wr[i] * xr[i] - wi[i] * xi[i];
            ybi[i] += wr[i] * xi[i] + wi[i] * xr[i];
            yfr[i] += fr[i] * xr[i] - fi[i] * xi[i];
            yfi[i] += fr[i] * xi[i] + fi[i] * xr[i];
            float x2 = xr[i] * xr[i] + xi[i] * xi[i];
            ps[i] += x2;
            ph[i] += pm[i] * x2;
        }
    }
}

/* Kalman-gain update, per partition k and bin f:
 *   W_k += P_k g conj(X_k) E,  g = 1 / (max(ERR_SCALE |E|^2 smoothed, Phi) + delta),
 * where Phi = sum_k P_k |X_k|^2 (filter_outputs) is the residual echo the
 * misalignment predicts; then P_k shrinks by KAPPA P_k g |X_k|^2 and grows
 * by PROCESS_Q |W_k|^2. Where the error is mostly near speech or noise, g
 * and the step are small (double talk); where it is mostly residual echo,
 * the step approaches 1 for the partitions still uncertain. */
OH_SIMD_CLONES
static void adapt(oh_aec *a, const float *restrict g)
{
    int nb = a->nb;
    const float *restrict er = a->cre, *restrict ei = a->cim;
    const float q = a->converged ? PROCESS_Q_CONVERGED : PROCESS_Q;
    for (int k = 0; k < a->K; k++) {
        long slot = ((a->tx - 1 - a->D - k) % a->H + a->H) % a->H;
        const float *restrict xr = a->xre + slot * nb, *restrict xi = a->xim + slot * nb;
        float *restrict wr = a->wre + (size_t)k * nb, *restrict wi = a->wim + (size_t)k * nb;
        float *restrict pm = a->pmis + (size_t)k * nb;
        for (int i = 0; i < nb; i++) {
            float gk = pm[i] * g[i];
            float gr = xr[i] * er[i] + xi[i] * ei[i];
            float gi = xr[i] * ei[i] - xi[i] * er[i];
            wr[i] += gk * gr;
            wi[i] += gk * gi;
            float dec = KAPPA * gk * (xr[i] * xr[i] + xi[i] * xi[i]);
            pm[i] = pm[i] * (1.0f - (dec < 1.0f ? dec : 1.0f)) + q * (wr[i] * wr[i] + wi[i] * wi[i]);
        }
    }
}

static void constrain(oh_aec *a, int k)
{
    int nb = a->nb, L = a->L, N = a->N;
    float *wr = a->wre + (size_t)k * nb, *wi = a->wim + (size_t)k * nb;
    oh_fft_inverse(a->fft, wr, wi, a->tmp);
    memset(a->tmp + N, 0, (size_t)(L - N) * sizeof(float));
    oh_fft_forward(a->fft, a->tmp, wr, wi);
}

/* Moves the filter window by delta blocks (positive: later). */
static void shift_partitions(oh_aec *a, int delta)
{
    size_t nb = (size_t)a->nb;
    int K = a->K;
    float *arrs[] = {a->wre, a->wim, a->fre, a->fim};
    for (int j = 0; j < 4; j++) {
        float *w = arrs[j];
        if (delta > 0) {
            for (int k = 0; k < K; k++) {
                if (k + delta < K)
                    memcpy(w + k * nb, w + (k + delta) * nb, nb * sizeof(float));
                else
                    memset(w + k * nb, 0, nb * sizeof(float));
            }
        } else {
            for (int k = K - 1; k >= 0; k--) {
                if (k + delta >= 0)
                    memcpy(w + k * nb, w + (k + delta) * nb, nb * sizeof(float));
                else
                    memset(w + k * nb, 0, nb * sizeof(float));
            }
        }
    }
}

/* shift_partitions for a filter worth keeping: the misalignment of each
 * partition moves with it (the partitions that come in keep the one they
 * had: the room prior's shape, roughly). */
static void move_learned_partitions(oh_aec *a, int delta)
{
    shift_partitions(a, delta);
    size_t nb = (size_t)a->nb, K = (size_t)a->K, row = nb * sizeof(float);
    size_t m = (size_t)(delta < 0 ? -delta : delta);
    if (m >= K)
        return;
    if (delta > 0)
        memmove(a->pmis, a->pmis + m * nb, (K - m) * row);
    else
        memmove(a->pmis + m * nb, a->pmis, (K - m) * row);
}

/* Moves a filter's impulse response by r taps (positive: later) across its
 * K partitions; taps moved out of the window are lost, the ones moved in
 * are zero. The upper half of each partition (garbage while unconstrained)
 * is dropped on the way, as constrain() does. */
static void shift_taps(oh_aec *a, float *wre, float *wim, int r)
{
    int nb = a->nb, L = a->L, N = a->N, K = a->K;
    size_t span = (size_t)K * (size_t)N;
    for (int k = 0; k < K; k++) {
        oh_fft_inverse(a->fft, wre + (size_t)k * nb, wim + (size_t)k * nb, a->tmp);
        memcpy(a->taps + (size_t)k * N, a->tmp, (size_t)N * sizeof(float));
    }
    size_t m = (size_t)(r < 0 ? -r : r);
    if (m >= span) {
        memset(a->taps, 0, span * sizeof(float));
    } else if (r > 0) {
        memmove(a->taps + m, a->taps, (span - m) * sizeof(float));
        memset(a->taps, 0, m * sizeof(float));
    } else {
        memmove(a->taps, a->taps + m, (span - m) * sizeof(float));
        memset(a->taps + span - m, 0, m * sizeof(float));
    }
    memset(a->tmp + N, 0, (size_t)(L - N) * sizeof(float));
    for (int k = 0; k < K; k++) {
        memcpy(a->tmp, a->taps + (size_t)k * N, (size_t)N * sizeof(float));
        oh_fft_forward(a->fft, a->tmp, wre + (size_t)k * nb, wim + (size_t)k * nb);
    }
}

/* The echo moved by `samples` (positive: later), the room unchanged. */
static void move_echo(oh_aec *a, int samples)
{
    const int N = a->N;
    /* Whole blocks move the filter window, as a delay search would; the
     * delay search's correlations move with it, or its stale peak would
     * pull the window back. What the window cannot take (its ends) and the
     * part of a block shift the filters. */
    int q = samples >= 0 ? samples / N : -((-samples + N - 1) / N);
    int newD = a->D + q;
    if (newD < 0)
        newD = 0;
    if (newD > a->dmax)
        newD = a->dmax;
    int moved = newD - a->D;
    a->D = newD;
    int lag = (samples >= 0 ? samples + N / 2 : samples - N / 2) / N; /* the peak's move, in blocks */
    int R = a->dmax + 1;
    if (lag >= R || -lag >= R) {
        memset(a->corr, 0, (size_t)R * sizeof(float));
    } else if (lag > 0) {
        memmove(a->corr + lag, a->corr, (size_t)(R - lag) * sizeof(float));
        memset(a->corr, 0, (size_t)lag * sizeof(float));
    } else if (lag < 0) {
        memmove(a->corr, a->corr - lag, (size_t)(R + lag) * sizeof(float));
        memset(a->corr + R + lag, 0, (size_t)(-lag) * sizeof(float));
    }
    if (a->cand >= 0)
        a->cand = a->cand + lag >= 0 && a->cand + lag < R ? a->cand + lag : -1;
    long rest = (long)samples - (long)moved * N;
    if (rest != 0) {
        int r = rest > (long)a->K * N ? a->K * N : rest < -(long)a->K * N ? -a->K * N : (int)rest;
        shift_taps(a, a->wre, a->wim, r);
        shift_taps(a, a->fre, a->fim, r);
    }
    a->snap_valid = 0; /* the filter's phase turned: not drift */
    a->st.slips++;
}

/* The output filter's loudest partition, -1 while it is empty. */
static int loudest_partition(const oh_aec *a)
{
    int nb = a->nb, best = -1;
    float most = 0.0f;
    for (int k = 0; k < a->K; k++) {
        float e = 0.0f;
        for (int i = 0; i < nb; i++) {
            size_t j = (size_t)k * nb + i;
            e += a->fre[j] * a->fre[j] + a->fim[j] * a->fim[j];
        }
        if (e > most) {
            most = e;
            best = k;
        }
    }
    return best;
}

/* Blocks from a far sample entering to its echo's strongest part reaching
 * the microphone: the output filter's loudest partition, or where the delay
 * search puts the direct path while the filter is still empty. */
static int echo_lag_blocks(const oh_aec *a)
{
    int k = loudest_partition(a);
    return a->D + (k >= 0 ? k : MARGIN_BLOCKS);
}

/* A converged filter whose echo starts two or more blocks later than the
 * window's margin wastes those partitions, and the room prior expects the
 * echo in the first ones: the window moves up to it, keeping what the filter
 * learnt (what it drops held no echo). The filter's own loudest partition
 * decides, not the delay search, whose peak wanders in double talk. */
static void tighten_window(oh_aec *a)
{
    int waste = loudest_partition(a) - MARGIN_BLOCKS;
    if (waste < 2 || a->D + waste > a->dmax)
        return;
    move_learned_partitions(a, waste);
    a->D += waste;
    a->snap_valid = 0;
    a->st.delay_changes++;
}

oh_status oh_aec_slip(oh_aec *a, int capture, int playback)
{
    if (!a)
        return OH_EINVAL;
    if (capture != 0)
        move_echo(a, capture);
    if (playback != 0) {
        long due = a->t + echo_lag_blocks(a);
        /* One move cannot follow the echo's response, which crosses the slip
         * over its whole length: until it has, the filter is suppressed as
         * lost (measured: ~20 ms of echo per slip got through otherwise). */
        if (due + a->K > a->guard_until)
            a->guard_until = due + a->K;
        if (a->n_pending < SLIPS_PENDING) {
            a->pending_due[a->n_pending] = due;
            a->pending_samples[a->n_pending++] = playback;
        } else { /* slips in a burst: the last one takes the rest */
            a->pending_samples[SLIPS_PENDING - 1] += playback;
        }
    }
    return OH_OK;
}

/* Playback slips whose echo arrives with this block. */
static void apply_due_slips(oh_aec *a)
{
    int kept = 0;
    for (int j = 0; j < a->n_pending; j++) {
        if (a->pending_due[j] <= a->t) {
            if (a->pending_samples[j] != 0)
                move_echo(a, a->pending_samples[j]);
        } else {
            a->pending_due[kept] = a->pending_due[j];
            a->pending_samples[kept++] = a->pending_samples[j];
        }
    }
    a->n_pending = kept;
}

static void band_logs(const oh_aec *a, const float *re, const float *im, float *out)
{
    for (int b = 0; b < NBANDS; b++) {
        float s = 0.0f;
        for (int k = a->band_lo[b]; k < a->band_lo[b + 1]; k++)
            s += re[k] * re[k] + im[k] * im[k];
        int w = a->band_lo[b + 1] - a->band_lo[b];
        out[b] = logf(s + (float)w * (float)a->L * 100.0f);
    }
}

static void delay_search(oh_aec *a, int far_active, int near_active)
{
    if (a->dmax <= 0)
        return;
    int R = a->dmax + 1;
    long slot = a->t % R;
    long xs = (a->tx - 1) % a->H;
    float *lf = a->far_logb + slot * NBANDS;
    band_logs(a, a->xre + xs * a->nb, a->xim + xs * a->nb, lf);
    float ln[NBANDS];
    band_logs(a, a->dre, a->dim, ln);
    if (!far_active && !near_active)
        return;
    /* Means start as running averages (1/n), so that their start from zero
     * does not look like a correlated step at every lag. */
    a->mean_frames++;
    const float am = a->mean_frames < 100 ? 1.0f / (float)a->mean_frames : 0.01f;
    const float ac = 0.03f;
    float dn[NBANDS], vn = 0.0f, vf = 0.0f;
    for (int b = 0; b < NBANDS; b++) {
        a->far_mean[b] += am * (lf[b] - a->far_mean[b]);
        a->near_mean[b] += am * (ln[b] - a->near_mean[b]);
        dn[b] = ln[b] - a->near_mean[b];
        float df = lf[b] - a->far_mean[b];
        vn += dn[b] * dn[b];
        vf += df * df;
    }
    a->near_var += ac * (vn - a->near_var);
    a->far_var += ac * (vf - a->far_var);
    int best = 0;
    for (int d = 0; d < R && d <= a->t; d++) {
        const float *lfd = a->far_logb + ((a->t - d) % R) * NBANDS;
        float c = 0.0f;
        for (int b = 0; b < NBANDS; b++)
            c += (lfd[b] - a->far_mean[b]) * dn[b];
        a->corr[d] += ac * (c - a->corr[d]);
        if (a->corr[d] > a->corr[best])
            best = d;
    }
    if (far_active)
        a->far_frames++;
    float rho = a->corr[best] / (sqrtf(a->near_var * a->far_var) + 1e-9f);
    a->rho = rho;
    if (rho < 0.4f || a->far_frames < 20) {
        a->cand_count = 0;
        return;
    }
    if (best != a->cand) {
        a->cand = best;
        a->cand_count = 0;
        return;
    }
    if (++a->cand_count < 10)
        return;
    /* Inside the filter's window (with room for the direct path): leave it. */
    if (best >= a->D + 1 && best <= a->D + a->K - 3)
        return;
    int newD = best - MARGIN_BLOCKS;
    if (newD < 0)
        newD = 0;
    if (newD > a->dmax)
        newD = a->dmax;
    if (newD == a->D)
        return;
    shift_partitions(a, newD - a->D);
    a->D = newD;
    a->snap_valid = 0;
    a->drift_m = 0;
    /* What the filter learned before was mostly noise: adapt from scratch. */
    a->converged = 0;
    a->q_num = a->q_den = 0.0f;
    reset_misalignment(a);
    a->poor = 0;
    a->pey = a->pyy = 0.0f;
    memset(a->pey_f, 0, (size_t)a->nb * sizeof(float));
    memset(a->pyy_f, 0, (size_t)a->nb * sizeof(float));
    a->st.delay_changes++;
    a->cand_count = 0;
}

static void suppress(oh_aec *a, float *out, int far_active)
{
    int N = a->N, L = a->L, nb = a->nb;
    /* windowed analysis of e (foreground error) and y (foreground echo) */
    memmove(a->e_hist, a->e_hist + N, (size_t)N * sizeof(float));
    memcpy(a->e_hist + N, a->ef, (size_t)N * sizeof(float));
    memmove(a->y_hist, a->y_hist + N, (size_t)N * sizeof(float));
    memcpy(a->y_hist + N, a->yf, (size_t)N * sizeof(float));
    memset(a->tmp + 2 * N, 0, (size_t)(L - 2 * N) * sizeof(float));
    for (int n = 0; n < 2 * N; n++)
        a->tmp[n] = a->win[n] * a->e_hist[n];
    oh_fft_forward(a->fft, a->tmp, a->cre, a->cim);
    for (int n = 0; n < 2 * N; n++)
        a->tmp[n] = a->win[n] * a->y_hist[n];
    oh_fft_forward(a->fft, a->tmp, a->are, a->aim);

    /* leak: regression of |E|^2 fluctuations on |Y|^2 fluctuations */
    float pey = 0.0f, pyy = 0.0f, see = 0.0f, syy = 0.0f, sdd = 0.0f;
    for (int i = 0; i < nb; i++) {
        float ee = a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
        float yy = a->are[i] * a->are[i] + a->aim[i] * a->aim[i];
        float dd = a->dre[i] * a->dre[i] + a->dim[i] * a->dim[i];
        sdd += dd;
        a->dd_cur[i] = dd;
        float de = ee - a->ee_mean[i], dy = yy - a->yy_mean[i];
        a->ee_mean[i] += 0.05f * (ee - a->ee_mean[i]);
        a->yy_mean[i] += 0.05f * (yy - a->yy_mean[i]);
        pey += de * dy;
        pyy += dy * dy;
        a->dre[i] = de * dy;
        a->dim[i] = dy * dy;
        see += ee;
        syy += yy;
        /* noise floor: fast down, slow up */
        if (!a->noise_init)
            a->noise[i] = ee;
        else if (ee < a->noise[i])
            a->noise[i] += 0.3f * (ee - a->noise[i]);
        else
            a->noise[i] *= 1.01f;
        if (a->noise[i] < 1e-3f)
            a->noise[i] = 1e-3f;
    }
    a->noise_init = 1;
    /* Echo path gain per bin: |D|^2 over the far power in the filter's
     * window, as a ratio of smoothed sums, learnt while the filter is
     * starting (nothing better to go on) or removes most of the microphone
     * signal (echo dominates), not in converged double talk. */
    if (far_active && (!a->converged || see < 0.25f * sdd)) {
        for (int i = 0; i < nb; i++) {
            a->erl_num[i] += 0.02f * (a->dd_cur[i] - a->erl_num[i]);
            a->erl_den[i] += 0.02f * (a->psum[i] - a->erl_den[i]);
        }
    }
    /* Echo-estimate-to-residual ratio per bin, learnt only while the linear
     * filter removes most of the microphone signal (echo dominates: no
     * double talk), so near speech cannot teach it to over-suppress. */
    if (far_active && a->converged && see < 0.25f * sdd) {
        for (int i = 0; i < nb; i++) {
            float ee = a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
            float yy = a->are[i] * a->are[i] + a->aim[i] * a->aim[i];
            a->ry_num[i] += 0.05f * (yy - a->ry_num[i]);
            a->ry_den[i] += 0.05f * (ee - a->ry_den[i]);
        }
    }
    if (far_active && syy > 0.0f) {
        float r = syy / (see + 1e-9f);
        float al = 0.02f * (r < 0.05f ? 0.05f : r > 1.0f ? 1.0f : r);
        a->pey += al * (pey - a->pey);
        a->pyy += al * (pyy - a->pyy);
        float leak = a->pyy > 0.0f ? a->pey / a->pyy : 0.0f;
        a->leak = leak < 0.0f ? 0.0f : leak > 1.0f ? 1.0f : leak;
        /* the same regression per bin, for the suppressor: residual echo is
         * not spread over frequency like the echo estimate (high bins converge
         * last, distortion products land where the echo estimate is small) */
        for (int i = 0; i < nb; i++) {
            a->pey_f[i] += al * (a->dre[i] - a->pey_f[i]);
            a->pyy_f[i] += al * (a->dim[i] - a->pyy_f[i]);
        }
        for (int i = 0; i < nb; i++) {
            int lo = i > 0 ? i - 1 : 0, hi = i < nb - 1 ? i + 1 : nb - 1;
            float num = a->pey_f[lo] + a->pey_f[i] + a->pey_f[hi];
            float den = a->pyy_f[lo] + a->pyy_f[i] + a->pyy_f[hi];
            float l = den > 0.0f ? num / den : 0.0f;
            a->leak_f[i] = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
        }
    }
    int dt = 0;
    if (!a->cfg.suppression) {
        memcpy(out, a->ef, (size_t)N * sizeof(float));
    } else {
        if (far_active && a->converged && see < GOOD_GATE * sdd) {
            a->q_num += 0.05f * (sdd - a->q_num);
            a->q_den += 0.05f * (see - a->q_den);
        }
        float qdb = 10.0f * log10f((a->q_num + 1.0f) / (a->q_den + 1.0f));
        float qg = a->converged ? (qdb - GOOD_LO) / (GOOD_HI - GOOD_LO) : 0.0f;
        qg = qg < 0.0f ? 0.0f : qg > 1.0f ? 1.0f : qg;
        if (a->rs_on && qg > DRIFT_GOOD)
            qg = DRIFT_GOOD;
        a->good = qg;
        const float leak_floor = LEAK_FLOOR + qg * (LEAK_FLOOR_GOOD - LEAK_FLOOR);
        const float beta = SUP_BETA + qg * (SUP_BETA_GOOD - SUP_BETA), gmin = 0.01f;
        const float decay = SUP_DECAY + qg * (SUP_DECAY_GOOD - SUP_DECAY);
        float r_tot = 0.0f;
        /* A filter that adds echo in a bin (the path changed under it) must
         * not make the output louder than the microphone there. */
        const int lost = a->sef_s > LOST_RATIO * a->sd_s || a->t < a->guard_until;
        /* The far-power estimate only where the microphone follows the far end at
         * all: with a far end that the microphone does not hear (background noise
         * on a headset call), a path gain learnt from near speech would suppress
         * that speech (~30 dB). The first ECHO_TRUST far-active blocks trust it
         * before the correlation has settled. */
        if (far_active && a->far_blocks < ECHO_TRUST)
            a->far_blocks++;
        const int echo_seen = a->rho >= ECHO_RHO || a->far_blocks < ECHO_TRUST;
        for (int i = 0; i < nb; i++) {
            float ee = a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
            if (ee > a->dd_cur[i] && ee > 0.0f) {
                float sc = sqrtf(a->dd_cur[i] / ee);
                a->cre[i] *= sc;
                a->cim[i] *= sc;
            }
        }
        for (int i = 0; i < nb; i++) {
            float ee = a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
            float yy = a->are[i] * a->are[i] + a->aim[i] * a->aim[i];
            float lk = a->leak_f[i] > leak_floor ? a->leak_f[i] : leak_floor;
            float lr = a->ry_den[i] / (a->ry_num[i] + 1.0f);
            if (lr > 1.0f)
                lr = 1.0f;
            float r = (lk > lr ? lk : lr) * yy;
            /* Before the filter converges (start, after an echo-path change or
             * a delay move, or when distortion or drift keep it poor) its echo
             * estimate says little: use the echo the far end should produce
             * through the learnt path gain. */
            if ((!a->converged || lost) && echo_seen) {
                float raw = RAW_OVER * a->erl_num[i] / (a->erl_den[i] + (float)a->L * 100.0f) * a->psum[i];
                r = r > raw ? r : raw;
            }
            float held = a->rs[i] * decay;
            a->rs[i] = r > held ? r : held;
            r_tot += a->rs[i];
            /* Decision-directed signal-to-residual ratio (Ephraim & Malah,
             * 1984): the previous frame's cleaned power steadies the
             * estimate, which keeps near speech in double talk smoother. */
            float rb = beta * a->rs[i] + 1e-3f;
            float post = ee / rb;
            float prio = GAIN_DD * a->gain[i] * a->gain[i] * a->e_prev[i] / rb
                         + (1.0f - GAIN_DD) * (post > 1.0f ? post - 1.0f : 0.0f);
            float g = prio / (1.0f + prio);
            a->e_prev[i] = ee;
            a->gain[i] = g < gmin ? gmin : g;
        }
        dt = far_active && see > 8.0f * r_tot && see > 8.0f * (a->noise[nb / 2] * (float)nb);
        float cn_scale = a->cfg.comfort_noise ? sqrtf((float)L / (float)N * 1.5f) : 0.0f;
        for (int i = 0; i < nb; i++) {
            float g = a->gain[i];
            float cn = cn_scale * sqrtf((1.0f - g * g) * a->noise[i] * 0.5f);
            float n1 = rand_unit(&a->rng) + rand_unit(&a->rng);
            float n2 = rand_unit(&a->rng) + rand_unit(&a->rng);
            a->cre[i] = g * a->cre[i] + cn * n1;
            a->cim[i] = g * a->cim[i] + cn * n2;
        }
        a->cim[0] = 0.0f;
        a->cim[nb - 1] = 0.0f;
        oh_fft_inverse(a->fft, a->cre, a->cim, a->tmp);
        for (int n = 0; n < N; n++)
            out[n] = a->ola[n] + a->win[n] * a->tmp[n];
        for (int n = 0; n < N; n++)
            a->ola[n] = a->win[N + n] * a->tmp[N + n];
    }
    a->st.double_talk = dt;
}

static void push_far_block(oh_aec *a)
{
    int N = a->N, L = a->L, nb = a->nb;
    memmove(a->xtime, a->xtime + N, (size_t)(L - N) * sizeof(float));
    memcpy(a->xtime + L - N, a->rblk, (size_t)N * sizeof(float));
    long xs = a->tx % a->H;
    oh_fft_forward(a->fft, a->xtime, a->xre + xs * nb, a->xim + xs * nb);
    a->tx++;
}

static void resample_block(oh_aec *a)
{
    const double step = 1.0 + a->eps;
    const int T = 2 * RS_HALF;
    for (int n = 0; n < a->N; n++) {
        double p = a->fp;
        long i0 = (long)floor(p);
        float ph = (float)(p - (double)i0) * RS_PHASES;
        int pi = (int)ph;
        if (pi >= RS_PHASES)
            pi = RS_PHASES - 1;
        float pf = ph - (float)pi;
        const float *t0 = a->rs_tab + pi * T, *t1 = t0 + T;
        float s = 0.0f;
        long base = i0 - RS_HALF + 1;
        for (int k = 0; k < T; k++) {
            long idx = (base + k) % a->FQ;
            if (idx < 0)
                idx += a->FQ;
            s += a->fq[idx] * (t0[k] + pf * (t1[k] - t0[k]));
        }
        a->rblk[n] = s;
        a->fp += step;
    }
}

/* One block per block normally; none when the reading position would run
 * past the newest far sample (the far clock is slow: the echo moved a block
 * earlier, so the filter's partitions move one block earlier), two when it
 * has fallen a block behind (the opposite). The ring then stays aligned. */
static void drift_blocks(oh_aec *a)
{
    const int N = a->N;
    const double step = 1.0 + a->eps;
    const double c0 = RS_HALF + 1 + N / 2;
    int produced = 0;
    if (a->fp + N * step + RS_HALF < (double)a->fw) {
        resample_block(a);
        push_far_block(a);
        produced = 1;
        if ((double)a->fw - a->fp > c0 + 1.5 * N) {
            resample_block(a);
            push_far_block(a);
            produced = 2;
        }
    }
    if (produced != 1) {
        move_learned_partitions(a, produced == 0 ? 1 : -1);
        a->snap_valid = 0;
    }
}

/* The background filter's phase rotation since the snapshot, as a delay
 * change (samples): per bin, the angle of sum_k conj(S_k) W_k, regressed on
 * the bin frequency with |sum| as the weight, up to a quarter of the rate. */
static void drift_track(oh_aec *a)
{
    const int nb = a->nb, K = a->K;
    if (!a->snap_valid) {
        memcpy(a->snre, a->wre, (size_t)K * nb * sizeof(float));
        memcpy(a->snim, a->wim, (size_t)K * nb * sizeof(float));
        a->snap_t = a->t;
        a->snap_valid = 1;
        return;
    }
    long age = a->t - a->snap_t;
    if (age < DRIFT_SNAP)
        return;
    /* up to 4 kHz (a quarter of the rate at 8 and 16 kHz): 0.1 % over
     * DRIFT_SNAP blocks turns those bins by at most ~2.5 rad, no wrap */
    int imax = (int)((long)a->L * 4000 / ((long)a->N * 100));
    if (imax > nb / 2)
        imax = nb / 2;
    double num = 0.0, den = 0.0;
    for (int i = 2; i <= imax; i++) {
        float cr = 0.0f, ci = 0.0f;
        for (int k = 0; k < K; k++) {
            size_t j = (size_t)k * nb + i;
            cr += a->snre[j] * a->wre[j] + a->snim[j] * a->wim[j];
            ci += a->snre[j] * a->wim[j] - a->snim[j] * a->wre[j];
        }
        double w = sqrt((double)cr * cr + (double)ci * ci);
        double om = 2.0 * 3.14159265358979323846 * i / a->L;
        double phi = atan2(ci, cr);
        num += w * om * phi;
        den += w * om * om;
    }
    memcpy(a->snre, a->wre, (size_t)K * nb * sizeof(float));
    memcpy(a->snim, a->wim, (size_t)K * nb * sizeof(float));
    a->snap_t = a->t;
    if (den <= 0.0)
        return;
    double dtau = -num / den;
    double total = a->eps - dtau / ((double)age * a->N);
    if (a->drift_n < (a->converged ? DRIFT_LOCK_N : DRIFT_MAX_N))
        a->drift_n++;
    if (a->drift_m < DRIFT_MIN_N)
        a->drift_m++;
    a->drift_est += (total - a->drift_est) / a->drift_n;
    if (!a->rs_on && !a->converged && a->drift_m >= DRIFT_MIN_N && fabs(a->drift_est) > DRIFT_ON) {
        a->rs_on = 1;
        a->fp = (double)(a->fw - a->N) - (RS_HALF + 1 + a->N / 2);
        a->snap_valid = 0;
        reset_misalignment(a);
    }
    if (a->rs_on)
        a->eps = a->drift_est;
}

/* A float sample to int16, rounded and saturated. */
static int16_t to_pcm(float v)
{
    return (int16_t)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : lrintf(v));
}

/* The far end into the FIFO, its spectrum (resampled once drift is
 * compensated) into the ring. Returns its power. */
static float take_far_block(oh_aec *a, const int16_t *far)
{
    const int N = a->N;
    float fe = 0.0f;
    for (int n = 0; n < N; n++) {
        float v = (float)far[n];
        a->fq[(a->fw + n) % a->FQ] = v;
        fe += v * v;
    }
    a->fw += N;
    if (!a->rs_on) {
        for (int n = 0; n < N; n++)
            a->rblk[n] = (float)far[n];
        push_far_block(a);
    } else {
        drift_blocks(a);
    }
    return fe;
}

/* A block with no microphone signal (the capture ran short): the far end
 * goes on into the history, nothing is learnt or judged (zeros against an
 * active far end would look like a vanished echo path, and reset the
 * filters), and the output is silence after the previous block's fade-out,
 * with the next block analysed as coming out of silence. */
static void gap_block(oh_aec *a, const int16_t *far, int16_t *out)
{
    const int N = a->N;
    take_far_block(a, far);
    float *hists[] = {a->d_hist, a->e_hist, a->y_hist};
    for (size_t h = 0; h < sizeof hists / sizeof hists[0]; h++) {
        memmove(hists[h], hists[h] + N, (size_t)N * sizeof(float));
        memset(hists[h] + N, 0, (size_t)N * sizeof(float));
    }
    delay_search(a, 0, 0); /* keeps its far history in step */
    for (int n = 0; n < N; n++)
        out[n] = to_pcm(a->cfg.suppression ? a->ola[n] : 0.0f);
    memset(a->ola, 0, (size_t)N * sizeof(float));
    a->st.frames++;
    a->t++;
}

static void process_block(oh_aec *a, const int16_t *near, const int16_t *far, int16_t *out)
{
    int N = a->N, L = a->L, nb = a->nb;
    float fe = take_far_block(a, far);
    for (int n = 0; n < N; n++)
        a->dblk[n] = (float)near[n];
    float sd = power_of(a->dblk, N);

    /* near spectrum for the delay search (windowed, 2N) */
    memmove(a->d_hist, a->d_hist + N, (size_t)N * sizeof(float));
    memcpy(a->d_hist + N, a->dblk, (size_t)N * sizeof(float));
    memset(a->tmp + 2 * N, 0, (size_t)(L - 2 * N) * sizeof(float));
    for (int n = 0; n < 2 * N; n++)
        a->tmp[n] = a->win[n] * a->d_hist[n];
    oh_fft_forward(a->fft, a->tmp, a->dre, a->dim);
    /* far activity: above ~ -60 dBFS in the block the filter sees now */
    const float thr = 30.0f * 30.0f * (float)N;
    int far_active_now = fe > thr;
    delay_search(a, far_active_now, sd > thr);

    filter_outputs(a);
    /* far power in the filter window: is there anything to cancel? */
    float pw = 0.0f;
    for (int i = 0; i < nb; i++)
        pw += a->psum[i];
    int far_active = pw > thr * (float)L * (float)a->K / (float)N * 0.05f;
    oh_fft_inverse(a->fft, a->are, a->aim, a->tmp);
    oh_fft_inverse(a->fft, a->bre, a->bim, a->tmp2);
    for (int n = 0; n < N; n++) {
        a->yb[n] = a->tmp[L - N + n];
        a->yf[n] = a->tmp2[L - N + n];
        a->eb[n] = a->dblk[n] - a->yb[n];
        a->ef[n] = a->dblk[n] - a->yf[n];
    }
    float seb = power_of(a->eb, N), sef = power_of(a->ef, N);

    float outf[480]; /* one block: at most 10 ms at 48 kHz */
    suppress(a, outf, far_active);

    /* background error spectrum, zero-padded: overlap-save gradient */
    memset(a->tmp, 0, (size_t)(L - N) * sizeof(float));
    memcpy(a->tmp + L - N, a->eb, (size_t)N * sizeof(float));
    oh_fft_forward(a->fft, a->tmp, a->cre, a->cim);
    if (far_active) {
        float delta = (float)a->K * (float)L * 100.0f;
        for (int i = 0; i < nb; i++) {
            float e2 = a->cre[i] * a->cre[i] + a->cim[i] * a->cim[i];
            a->ebs[i] += ERR_SMOOTH * (e2 - a->ebs[i]);
            float den = a->err_scale * a->ebs[i];
            if (den < a->phi[i])
                den = a->phi[i];
            a->mu[i] = 1.0f / (den + delta);
        }
        if (a->p_fresh < CALIBRATE_BLOCKS)
            calibrate_misalignment(a);
        adapt(a, a->mu);
        int ncon = a->good >= 1.0f ? CONSTRAIN_GOOD : a->K;
        for (int c = 0; c < ncon && c < a->K; c++) {
            constrain(a, a->constrain_next);
            a->constrain_next = (a->constrain_next + 1) % a->K;
        }
    }

    if (far_active)
        drift_track(a);
    /* two-path control and convergence tracking, on far-active blocks */
    if (far_active) {
        const float as = 0.3f;
        a->sd_s += as * (sd - a->sd_s);
        a->seb_s += as * (seb - a->seb_s);
        a->sef_s += as * (sef - a->sef_s);
        if (a->seb_s < 0.8f * a->sef_s && seb < sef) {
            if (++a->bg_better >= 4) {
                memcpy(a->fre, a->wre, (size_t)a->K * nb * sizeof(float));
                memcpy(a->fim, a->wim, (size_t)a->K * nb * sizeof(float));
                a->sef_s = a->seb_s;
                a->bg_better = 0;
            }
        } else {
            a->bg_better = 0;
        }
        if (a->seb_s > 4.0f * a->sef_s && a->seb_s > a->sd_s) {
            if (++a->bg_worse >= 5) {
                memcpy(a->wre, a->fre, (size_t)a->K * nb * sizeof(float));
                memcpy(a->wim, a->fim, (size_t)a->K * nb * sizeof(float));
                a->seb_s = a->sef_s;
                a->bg_worse = 0;
                a->st.divergence_resets++;
            }
        } else {
            a->bg_worse = 0;
        }
        /* The output filter adds echo (the path changed under it): start over. */
        if (a->sef_s > FG_BAD_RATIO * a->sd_s) {
            if (++a->fg_bad >= FG_BAD_BLOCKS) {
                size_t bytes = (size_t)a->K * nb * sizeof(float);
                memset(a->fre, 0, bytes);
                memset(a->fim, 0, bytes);
                memset(a->wre, 0, bytes);
                memset(a->wim, 0, bytes);
                a->snap_valid = 0;
                a->fg_bad = 0;
                a->converged = 0;
                a->q_num = a->q_den = 0.0f;
                reset_misalignment(a);
                a->sdl_s = a->sout_s = 0.0f;
                a->st.divergence_resets++;
            }
        } else {
            a->fg_bad = 0;
        }
        /* long-term linear ERLE decides start-up vs tracking mode */
        a->sdl_s += 0.05f * (sd - a->sdl_s);
        a->sout_s += 0.05f * (sef - a->sout_s);
        float erle = a->sdl_s / (a->sout_s + 1.0f);
        if (!a->converged && erle > (a->rs_on ? CONVERGED_ERLE_DRIFT : CONVERGED_ERLE))
            a->converged = 1;
        if (a->converged && a->t % TIGHTEN_BLOCKS == 0)
            tighten_window(a);
        /* Lost: error no smaller than the microphone and still correlated
         * with the echo estimate (an echo-path change; near speech in double
         * talk would not correlate) - back to the start-up step. */
        if (a->converged && erle < 1.5f && a->leak > 0.3f) {
            if (++a->poor >= 100) {
                a->converged = 0;
                a->q_num = a->q_den = 0.0f;
                reset_misalignment(a);
            }
        } else {
            a->poor = 0;
        }
    }

    float so = 0.0f;
    for (int n = 0; n < N; n++) {
        float v = outf[n];
        so += v * v;
        out[n] = to_pcm(v);
    }
    /* statistics */
    a->st.far_active = far_active;
    a->st.converged = a->converged;
    if (far_active) {
        /* smoothed over ~1 s of far-end activity */
        a->st.linear_erle_db = 10.0f * log10f((a->sdl_s + 1.0f) / (a->sout_s + 1.0f));
        a->sdo_s += 0.05f * (sd - a->sdo_s);
        a->so_s += 0.05f * (so - a->so_s);
        a->st.erle_db = 10.0f * log10f((a->sdo_s + 1.0f) / (a->so_s + 1.0f));
    }
    a->st.drift_ppm = (float)(a->eps * 1e6);
    a->st.bulk_delay_ms = a->D * 10;
    a->st.delay_ms = a->D * 10;
    a->st.frames++;
    a->t++;
}

oh_status oh_aec_process(oh_aec *a, const int16_t *near, const int16_t *far, int16_t *out)
{
    return oh_aec_process_partial(a, near, a ? a->cfg.frame_size : 0, far, out);
}

oh_status oh_aec_process_partial(oh_aec *a, const int16_t *near, int near_valid, const int16_t *far,
                                 int16_t *out)
{
    if (!a || !near || !far || !out || near_valid < 0 || near_valid > a->cfg.frame_size)
        return OH_EINVAL;
    for (int s = 0; s < a->nsub; s++) {
        apply_due_slips(a);
        if ((s + 1) * a->N <= near_valid)
            process_block(a, near + s * a->N, far + s * a->N, out + s * a->N);
        else
            gap_block(a, far + s * a->N, out + s * a->N);
    }
    return OH_OK;
}
