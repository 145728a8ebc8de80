/* Cost of put+get, offhook's oh_jitter against speexdsp's JitterBuffer, in C
 * (no binding overhead on either side). bench_jitter.py compiles this with
 * the C core's sources and -lspeexdsp, and passes a trace as binary pairs
 * (double arrival_ms, int32 frame) in arrival order; both buffers replay it
 * `rounds` times on a 20 ms tick. Prints: ns per tick for offhook, for speex. */
#include <speex/speex_jitter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "offhook/oh_jitter.h"

typedef struct pk {
    double arrival;
    int32_t frame;
} pk;

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    static pk p[200000];
    size_t n = 0;
    while (n < 200000 && fread(&p[n].arrival, sizeof(double), 1, f) == 1 &&
           fread(&p[n].frame, sizeof(int32_t), 1, f) == 1)
        n++;
    fclose(f);
    int rounds = atoi(argv[2]);
    if (!n || rounds < 1)
        return 2;
    double t0 = p[0].arrival, end = p[n - 1].arrival;
    long ticks = (long)((end - t0) / 20.0) + 1;
    uint8_t payload[160];
    memset(payload, 0x55, sizeof payload);
    volatile size_t sink = 0;

    double start = seconds();
    for (int r = 0; r < rounds; r++) {
        oh_jitter_config cfg;
        oh_jitter_config_default(&cfg);
        oh_jitter *jb;
        if (oh_jitter_create(&cfg, &jb) != OH_OK)
            return 1;
        size_t j = 0;
        for (long k = 0; k < ticks; k++) {
            double now = t0 + 20.0 * (double)k;
            while (j < n && p[j].arrival <= now) {
                uint32_t i = (uint32_t)p[j].frame;
                oh_jitter_put(jb, (uint16_t)i, i * 160u, 1, 0, payload, sizeof payload, 0, p[j].arrival);
                j++;
            }
            oh_jitter_frame fr;
            oh_jitter_get(jb, now, &fr);
            sink += fr.len;
        }
        oh_jitter_destroy(jb);
    }
    double ours = (seconds() - start) / ((double)rounds * (double)ticks);

    char out[2048];
    start = seconds();
    for (int r = 0; r < rounds; r++) {
        JitterBuffer *jb = jitter_buffer_init(160);
        size_t j = 0;
        for (long k = 0; k < ticks; k++) {
            double now = t0 + 20.0 * (double)k;
            while (j < n && p[j].arrival <= now) {
                JitterBufferPacket in;
                uint32_t i = (uint32_t)p[j].frame;
                in.data = (char *)payload;
                in.len = sizeof payload;
                in.timestamp = i * 160u;
                in.span = 160;
                in.sequence = (uint16_t)i;
                in.user_data = 0;
                jitter_buffer_put(jb, &in);
                j++;
            }
            JitterBufferPacket o;
            spx_int32_t offset;
            o.data = out;
            o.len = sizeof out;
            if (jitter_buffer_get(jb, &o, 160, &offset) == JITTER_BUFFER_OK)
                sink += o.len;
            jitter_buffer_tick(jb);
        }
        jitter_buffer_destroy(jb);
    }
    double theirs = (seconds() - start) / ((double)rounds * (double)ticks);
    printf("%.1f %.1f %zu\n", ours * 1e9, theirs * 1e9, (size_t)sink % 2);
    return 0;
}
