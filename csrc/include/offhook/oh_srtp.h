/* SRTP and SRTCP (RFC 3711, RFC 7714 for GCM) through libsrtp2, with SDES
 * keying (RFC 4568 a=crypto inline keys).
 *
 * One oh_srtp holds both directions of a stream: the local key protects what
 * is sent, the remote key unprotects what is received (any SSRC), with replay
 * protection on in both (RTP and RTCP).
 *
 * Suites: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32 (32-bit RTP tag,
 * 80-bit SRTCP tag, as RFC 4568 6.2.2 says) and AEAD_AES_128_GCM (16-byte
 * tag, RFC 7714). Key material is key||salt: 30 bytes for AES-CM, 28 for GCM.
 *
 * Buffers: protect writes at most OH_SRTP_MAX_OVERHEAD bytes more than it
 * is given; unprotect works in place and shortens the packet. Packets should
 * start 4-byte aligned (libsrtp2 reads the header as 32-bit words).
 *
 * Thread safety: an oh_srtp is used by one thread at a time (libsrtp2 session
 * state); different objects may be used from different threads. The library
 * initialises libsrtp2 once per process on the first _create (see oh_srtp.c);
 * nothing in this API exposes or needs global state. _create allocates
 * (through libsrtp2 as well as oh_alloc); unprotect may let libsrtp2
 * allocate once per new authenticated remote SSRC. */
#ifndef OFFHOOK_OH_SRTP_H
#define OFFHOOK_OH_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_rtp.h"
#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oh_srtp_suite {
    OH_SRTP_AES_CM_128_HMAC_SHA1_80 = 0,
    OH_SRTP_AES_CM_128_HMAC_SHA1_32 = 1,
    OH_SRTP_AEAD_AES_128_GCM = 2
} oh_srtp_suite;

#define OH_SRTP_SUITE_COUNT 3
#define OH_SRTP_MAX_KEY 30          /* key||salt bytes, the largest suite */
#define OH_SRTP_MAX_OVERHEAD 148    /* bytes protect may add (libsrtp2's trailer bound + SRTCP index) */
#define OH_SRTP_MAX_INLINE 64       /* an "inline:" key-params string of this module, NUL included */

/* The RFC 4568 name ("AES_CM_128_HMAC_SHA1_80"...), or NULL for an unknown suite. */
const char *oh_srtp_suite_name(int suite);
/* The suite of a name (exact, case-sensitive as in SDP); OH_EUNSUPPORTED if unknown. */
int oh_srtp_suite_from_name(const char *name, size_t len);
/* key||salt length of a suite in bytes (30 or 28), or OH_EINVAL. */
int oh_srtp_key_len(int suite);
/* The authentication tag on each SRTP packet (10, 4 or 16 bytes), or OH_EINVAL. */
int oh_srtp_tag_len(int suite);

typedef struct oh_srtp_config {
    oh_srtp_suite suite;
    uint8_t local_key[OH_SRTP_MAX_KEY];   /* key||salt we send with (oh_srtp_key_len bytes used) */
    uint8_t remote_key[OH_SRTP_MAX_KEY];  /* key||salt the peer sends with */
    unsigned replay_window;               /* packets, 64..32768 (default 1024) */
} oh_srtp_config;

typedef struct oh_srtp oh_srtp;

/* AES_CM_128_HMAC_SHA1_80, zero keys (replace them), window 1024. */
void oh_srtp_config_default(oh_srtp_config *cfg);
/* OH_EINTERNAL when libsrtp2 fails to initialise or refuses the policy,
 * OH_EUNSUPPORTED when this libsrtp2 build lacks the suite (GCM without a
 * crypto backend). */
oh_status oh_srtp_create(const oh_srtp_config *cfg, oh_srtp **out);
void oh_srtp_destroy(oh_srtp *s);

/* Copies the RTP packet in[0..len) to out (in == out is allowed) and protects
 * it. cap must be at least len + OH_SRTP_MAX_OVERHEAD. Returns the SRTP
 * length, or OH_EBADPKT (*defect set) for a malformed packet, OH_EBUFSIZE,
 * OH_EINTERNAL. */
int oh_srtp_protect(oh_srtp *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                    oh_pkt_defect *defect);
/* Verifies and decrypts an SRTP packet in place. Returns the RTP length, or
 * OH_EBADPKT with *defect AUTH_FAIL, REPLAY, TRUNCATED or BAD_VERSION. */
int oh_srtp_unprotect(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect);
int oh_srtp_protect_rtcp(oh_srtp *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                         oh_pkt_defect *defect);
int oh_srtp_unprotect_rtcp(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect);

/* ---- SDES (RFC 4568) ---- */

/* One a=crypto attribute value: "<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:len]". */
typedef struct oh_srtp_sdes {
    int tag;                      /* 1..999999999 */
    oh_srtp_suite suite;
    uint8_t key[OH_SRTP_MAX_KEY]; /* key||salt, oh_srtp_key_len(suite) bytes */
    uint64_t lifetime;            /* packets, 0 when not given */
    uint32_t mki;                 /* MKI value when mki_len > 0 */
    int mki_len;                  /* MKI length in bytes (1..128), 0 when absent */
} oh_srtp_sdes;

/* Parses an a=crypto value (without "a=crypto:"). OH_EFORMAT for malformed
 * text (bad base64, wrong key length, bad lifetime or MKI), OH_EUNSUPPORTED
 * for an unknown suite, several keys or session parameters. */
oh_status oh_srtp_sdes_parse(const char *text, size_t len, oh_srtp_sdes *out);
/* Formats an a=crypto value into out (NUL-terminated). Returns its length,
 * or OH_EBUFSIZE / OH_EINVAL. */
int oh_srtp_sdes_format(const oh_srtp_sdes *sdes, char *out, size_t cap);

/* Fills key with len bytes from the operating system's CSPRNG (getrandom).
 * OH_EIO if it cannot. */
oh_status oh_srtp_random_key(uint8_t *key, size_t len);

#ifdef __cplusplus
}
#endif

#endif
