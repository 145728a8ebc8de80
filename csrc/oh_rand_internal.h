/* The core's one pseudo-random source: Marsaglia's xorshift64 (shifts 13, 7,
 * 17), one 64-bit state per owner, never global. Used where randomness only
 * has to look random (RTCP interval jitter, comfort noise), never for keys
 * (SRTP keys come from the operating system). The state must not be 0. */
#ifndef OFFHOOK_OH_RAND_INTERNAL_H
#define OFFHOOK_OH_RAND_INTERNAL_H

#include <stdint.h>

/* Uniform on [0, 1), from the top 53 bits of the next state. */
static inline double oh_rand_unit(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

#endif
