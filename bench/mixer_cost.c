/* Cost of one conference tick from C (no binding overhead): offhook's
 * oh_mixer (put each talker's frame, then mix-minus) against the naive
 * bridge, which sums the other N-1 inputs for each of the N listeners and
 * hard-clips (O(N^2)). bench_mixer.py compiles this with the mixer's source.
 * Usage: mixer_cost PARTICIPANTS TALKERS FRAME TICKS
 * Prints: ns per tick for offhook, for the naive bridge. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "offhook/oh_mixer.h"

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    int n = atoi(argv[1]), talkers = atoi(argv[2]), frame = atoi(argv[3]), ticks = atoi(argv[4]);
    if (n < 1 || talkers < 0 || talkers > n || frame < 1 || ticks < 1)
        return 2;
    int16_t *in = malloc((size_t)n * (size_t)frame * sizeof *in);
    int16_t *out = malloc((size_t)n * (size_t)frame * sizeof *out);
    if (!in || !out)
        return 1;
    unsigned x = 1;
    for (int i = 0; i < n * frame; i++) { /* speech-like level: about -20 dBFS */
        x = x * 1103515245u + 12345u;
        in[i] = (int16_t)((int)(x >> 16) % 6000 - 3000);
    }

    oh_mixer_config cfg;
    oh_mixer_config_default(&cfg);
    cfg.sample_rate = frame * 100;
    cfg.frame_size = frame;
    cfg.max_participants = n;
    oh_mixer *m;
    if (oh_mixer_create(&cfg, &m) != OH_OK)
        return 1;
    for (int p = 0; p < n; p++)
        oh_mixer_add(m, (uint32_t)p * 7919u, 1.0);
    volatile long sink = 0;
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        double start = seconds();
        for (int t = 0; t < ticks; t++) {
            for (int p = 0; p < talkers; p++)
                oh_mixer_put(m, (uint32_t)p * 7919u, in + (size_t)p * (size_t)frame);
            oh_mixer_mix(m);
            sink += oh_mixer_output(m, 0)[t % frame];
        }
        double s = (seconds() - start) / ticks;
        best = s < best ? s : best;
    }
    oh_mixer_destroy(m);

    double naive = 1e9;
    int naive_ticks = ticks / (n > 10 ? n / 10 : 1) + 1; /* it is O(N^2): fewer ticks */
    for (int round = 0; round < 5; round++) {
        double start = seconds();
        for (int t = 0; t < naive_ticks; t++) {
            for (int l = 0; l < n; l++) {
                int16_t *o = out + (size_t)l * (size_t)frame;
                for (int i = 0; i < frame; i++) {
                    int32_t acc = 0;
                    for (int p = 0; p < talkers; p++)
                        acc += p == l ? 0 : in[(size_t)p * (size_t)frame + (size_t)i];
                    o[i] = (int16_t)(acc > 32767 ? 32767 : acc < -32768 ? -32768 : acc);
                }
            }
            sink += out[t % frame];
        }
        double s = (seconds() - start) / naive_ticks;
        naive = s < naive ? s : naive;
    }
    printf("%.0f %.0f %ld\n", best * 1e9, naive * 1e9, (long)(sink & 1));
    free(in);
    free(out);
    return 0;
}
