/* SRTP/SRTCP through libsrtp2, and RFC 4568 SDES key parameters.
 *
 * Why libsrtp2. SRTP is cryptography (AES counter mode and GCM, HMAC-SHA1,
 * key derivation, replay windows): it is safer to link the implementation
 * every softphone and browser stack uses (Debian's is built on NSS, which
 * also provides GCM) than to write one. This file is the thin,
 * bounds-checked adapter: it maps the three SDES suites onto libsrtp2
 * policies, keeps libsrtp2's types out of offhook's headers, and turns its
 * status codes into oh_status plus an oh_pkt_defect a statistics counter can
 * use (authentication failure and replay are separate).
 *
 * One oh_srtp = two libsrtp2 sessions: an outbound one with the local key
 * (ssrc_any_outbound: any SSRC we send is covered) and an inbound one with
 * the remote key (ssrc_any_inbound: libsrtp2 clones its template stream for
 * each new SSRC, after that SSRC's first packet authenticated, so forged
 * packets cannot make it allocate). Replay protection is on in both
 * (window_size, allow_repeat_tx = 0). With AES_CM_128_HMAC_SHA1_32, SRTCP
 * keeps its 80-bit tag (RFC 4568 6.2.2 / RFC 3711 3.4).
 *
 * libsrtp2's global initialisation. srtp_init() sets up a process-wide
 * crypto kernel (cipher and auth type lists, debug modules): it is not
 * reference-counted, and a second call re-runs every self-test (its source,
 * crypto_kernel.c, even exit()s if one fails then), while srtp_shutdown()
 * tears the kernel down under any session still alive, including sessions
 * of another library in the same process (libsrtp's docs: "No srtp
 * functions may be called after calling this function"; pjsip's tracker has
 * the re-init bugs this causes). Neither call is thread-safe. So offhook
 * calls srtp_init() exactly once per process, from the first oh_srtp_create,
 * through pthread_once (which makes concurrent first creates safe), keeps
 * the result to report OH_EINTERNAL on every create if it failed, and never
 * calls srtp_shutdown(): the kernel is a few hundred bytes that live as long
 * as the process, like OpenSSL's. That once-flag and its result are the only
 * mutable statics of the C core; the API neither exposes nor needs them
 * (there is no oh_srtp_init/shutdown pair to get wrong).
 *
 * SDES (RFC 4568 9.1): "<tag> <suite> inline:<key||salt in base64>[|lifetime]
 * [|MKI:length]". The parser is strict (base64 alphabet and padding, the
 * suite's exact key length, lifetime as decimal or 2^n up to 2^48, MKI
 * length 1..128) and refuses what it cannot honour (several keys, session
 * parameters) with OH_EUNSUPPORTED rather than ignoring it. Known limit:
 * MKIs are parsed but not used by oh_srtp (callers refuse such offers). */
#define _GNU_SOURCE
#include "offhook/oh_srtp.h"

#include <pthread.h>
#include <errno.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "oh_alloc.h"

_Static_assert(SRTP_MAX_TRAILER_LEN + 4 <= OH_SRTP_MAX_OVERHEAD, "SRTP overhead bound");
_Static_assert(SRTP_AES_ICM_128_KEY_LEN_WSALT <= OH_SRTP_MAX_KEY, "AES-CM key size");
_Static_assert(SRTP_AES_GCM_128_KEY_LEN_WSALT <= OH_SRTP_MAX_KEY, "GCM key size");

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_result = srtp_err_status_init_fail;

static void set_policy(srtp_policy_t *p, oh_srtp_suite suite);

/* 1 when libsrtp2's kernel is up already: a session can be made. Before
 * srtp_init, srtp_create refuses (the kernel's "not initialised" check)
 * without touching anything. */
static int kernel_ready(void)
{
    uint8_t key[OH_SRTP_MAX_KEY] = {0};
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    set_policy(&p, OH_SRTP_AES_CM_128_HMAC_SHA1_80);
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = 1024;
    srtp_t probe = NULL;
    if (srtp_create(&probe, &p) != srtp_err_status_ok)
        return 0;
    srtp_dealloc(probe);
    return 1;
}

/* The once-flag is per copy of this file, and a process may hold several:
 * offhook_core is linked statically into each Python extension module
 * (offhook._rtp, offhook._media...) while libsrtp2 is one shared library
 * with one kernel. A second srtp_init() fails (it registers its debug
 * module twice), so a copy that finds the kernel up uses it as it is. */
static void srtp_init_once(void)
{
    srtp_init_result = kernel_ready() ? srtp_err_status_ok : srtp_init();
}

struct oh_srtp {
    oh_srtp_suite suite;
    srtp_t tx;
    srtp_t rx;
};

static const char *const suite_names[OH_SRTP_SUITE_COUNT] = {
    "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"};

const char *oh_srtp_suite_name(int suite)
{
    return suite >= 0 && suite < OH_SRTP_SUITE_COUNT ? suite_names[suite] : NULL;
}

int oh_srtp_suite_from_name(const char *name, size_t len)
{
    if (!name)
        return OH_EINVAL;
    for (int i = 0; i < OH_SRTP_SUITE_COUNT; i++)
        if (strlen(suite_names[i]) == len && memcmp(suite_names[i], name, len) == 0)
            return i;
    return OH_EUNSUPPORTED;
}

int oh_srtp_key_len(int suite)
{
    switch (suite) {
    case OH_SRTP_AES_CM_128_HMAC_SHA1_80:
    case OH_SRTP_AES_CM_128_HMAC_SHA1_32: return SRTP_AES_ICM_128_KEY_LEN_WSALT;
    case OH_SRTP_AEAD_AES_128_GCM: return SRTP_AES_GCM_128_KEY_LEN_WSALT;
    default: return OH_EINVAL;
    }
}

int oh_srtp_tag_len(int suite)
{
    switch (suite) {
    case OH_SRTP_AES_CM_128_HMAC_SHA1_80: return 10;
    case OH_SRTP_AES_CM_128_HMAC_SHA1_32: return 4;
    case OH_SRTP_AEAD_AES_128_GCM: return 16;
    default: return OH_EINVAL;
    }
}

void oh_srtp_config_default(oh_srtp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->suite = OH_SRTP_AES_CM_128_HMAC_SHA1_80;
    cfg->replay_window = 1024;
}

static void set_policy(srtp_policy_t *p, oh_srtp_suite suite)
{
    switch (suite) {
    case OH_SRTP_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    case OH_SRTP_AES_CM_128_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    case OH_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        break;
    }
}

static oh_status make_session(srtp_t *out, oh_srtp_suite suite, const uint8_t *key, int inbound,
                              unsigned window)
{
    uint8_t keybuf[OH_SRTP_MAX_KEY];
    memcpy(keybuf, key, sizeof keybuf); /* libsrtp2 takes a non-const key */
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    set_policy(&p, suite);
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    p.key = keybuf;
    p.window_size = window;
    p.allow_repeat_tx = 0;
    p.next = NULL;
    srtp_err_status_t e = srtp_create(out, &p);
    memset(keybuf, 0, sizeof keybuf);
    if (e == srtp_err_status_ok)
        return OH_OK;
    *out = NULL;
    if (e == srtp_err_status_alloc_fail)
        return OH_ENOMEM;
    /* a cipher missing from this build's crypto kernel */
    if (suite == OH_SRTP_AEAD_AES_128_GCM && (e == srtp_err_status_fail || e == srtp_err_status_bad_param))
        return OH_EUNSUPPORTED;
    return OH_EINTERNAL;
}

oh_status oh_srtp_create(const oh_srtp_config *cfg, oh_srtp **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    if ((int)cfg->suite < 0 || cfg->suite >= OH_SRTP_SUITE_COUNT || cfg->replay_window < 64 ||
        cfg->replay_window > 32768)
        return OH_EINVAL;
    if (pthread_once(&srtp_once, srtp_init_once) != 0 || srtp_init_result != srtp_err_status_ok)
        return OH_EINTERNAL;
    oh_srtp *s = oh_alloc(sizeof *s);
    if (!s)
        return OH_ENOMEM;
    s->suite = cfg->suite;
    oh_status st = make_session(&s->tx, cfg->suite, cfg->local_key, 0, cfg->replay_window);
    if (st == OH_OK)
        st = make_session(&s->rx, cfg->suite, cfg->remote_key, 1, cfg->replay_window);
    if (st != OH_OK) {
        oh_srtp_destroy(s);
        return st;
    }
    *out = s;
    return OH_OK;
}

void oh_srtp_destroy(oh_srtp *s)
{
    if (!s)
        return;
    if (s->tx)
        srtp_dealloc(s->tx);
    if (s->rx)
        srtp_dealloc(s->rx);
    oh_free(s);
}

static int fail(oh_pkt_defect *defect, oh_pkt_defect why)
{
    if (defect)
        *defect = why;
    return OH_EBADPKT;
}

static int map_error(srtp_err_status_t e, oh_pkt_defect *defect)
{
    switch (e) {
    case srtp_err_status_auth_fail:
    case srtp_err_status_cipher_fail:
    case srtp_err_status_cant_check: /* SRTCP claiming to be unencrypted under a policy that encrypts */
        return fail(defect, OH_PKT_AUTH_FAIL);
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return fail(defect, OH_PKT_REPLAY);
    case srtp_err_status_no_ctx: return fail(defect, OH_PKT_UNKNOWN_SSRC);
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return fail(defect, OH_PKT_TRUNCATED);
    case srtp_err_status_alloc_fail: return OH_ENOMEM;
    default: return OH_EINTERNAL;
    }
}

static int protect(oh_srtp *s, int rtcp, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                   oh_pkt_defect *defect)
{
    if (defect)
        *defect = OH_PKT_OK;
    if (!s || !in || !out)
        return OH_EINVAL;
    if (rtcp) {
        if (len < 8)
            return fail(defect, OH_PKT_TRUNCATED);
        if ((in[0] >> 6) != 2)
            return fail(defect, OH_PKT_BAD_VERSION);
    } else {
        oh_rtp_header h;
        oh_status st = oh_rtp_parse(in, len, &h, defect);
        if (st != OH_OK)
            return st;
    }
    if (len > (size_t)INT32_MAX - OH_SRTP_MAX_OVERHEAD)
        return OH_EINVAL;
    if (cap < len + OH_SRTP_MAX_OVERHEAD)
        return OH_EBUFSIZE;
    if (out != in)
        memmove(out, in, len);
    int n = (int)len;
    srtp_err_status_t e = rtcp ? srtp_protect_rtcp(s->tx, out, &n) : srtp_protect(s->tx, out, &n);
    if (e != srtp_err_status_ok)
        return map_error(e, defect);
    return n;
}

static int unprotect(oh_srtp *s, int rtcp, uint8_t *pkt, size_t len, oh_pkt_defect *defect)
{
    if (defect)
        *defect = OH_PKT_OK;
    if (!s || !pkt)
        return OH_EINVAL;
    size_t min = rtcp ? 8 : OH_RTP_HEADER_MIN;
    if (len < min)
        return fail(defect, OH_PKT_TRUNCATED);
    if ((pkt[0] >> 6) != 2)
        return fail(defect, OH_PKT_BAD_VERSION);
    if (len > INT32_MAX)
        return fail(defect, OH_PKT_BAD_LENGTH);
    if (!rtcp) {
        /* the header is in clear: refuse a CSRC list or extension that
         * overruns before libsrtp2 computes offsets from it */
        size_t off = OH_RTP_HEADER_MIN + 4u * (pkt[0] & 0x0f);
        if (off > len)
            return fail(defect, OH_PKT_CSRC_OVERRUN);
        if (pkt[0] & 0x10) {
            if (len - off < 4)
                return fail(defect, OH_PKT_EXT_OVERRUN);
            size_t words = (size_t)((pkt[off + 2] << 8) | pkt[off + 3]);
            if (words * 4 > len - off - 4)
                return fail(defect, OH_PKT_EXT_OVERRUN);
        }
    }
    int n = (int)len;
    srtp_err_status_t e = rtcp ? srtp_unprotect_rtcp(s->rx, pkt, &n) : srtp_unprotect(s->rx, pkt, &n);
    if (e != srtp_err_status_ok)
        return map_error(e, defect);
    return n;
}

int oh_srtp_protect(oh_srtp *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                    oh_pkt_defect *defect)
{
    return protect(s, 0, in, len, out, cap, defect);
}

int oh_srtp_unprotect(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect)
{
    return unprotect(s, 0, pkt, len, defect);
}

int oh_srtp_protect_rtcp(oh_srtp *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                         oh_pkt_defect *defect)
{
    return protect(s, 1, in, len, out, cap, defect);
}

int oh_srtp_unprotect_rtcp(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect)
{
    return unprotect(s, 1, pkt, len, defect);
}

/* ---- SDES ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 (RFC 4648 alphabet, '=' padding optional, no whitespace,
 * unused trailing bits zero). Returns decoded bytes or -1. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    while (len && s[len - 1] == '=' )
        len--;
    if (len % 4 == 1)
        return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    return (int)n;
}

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    return o;
}

static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

oh_status oh_srtp_sdes_parse(const char *text, size_t len, oh_srtp_sdes *out)
{
    if (!text || !out)
        return OH_EINVAL;
    memset(out, 0, sizeof *out);
    /* split into whitespace-separated tokens: tag, suite, key-params[, session params] */
    const char *tok[4];
    size_t tlen[4];
    int ntok = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(text[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !is_space(text[i]))
            i++;
        if (ntok == 4)
            return OH_EUNSUPPORTED;
        tok[ntok] = text + start;
        tlen[ntok] = i - start;
        ntok++;
    }
    if (ntok < 3)
        return OH_EFORMAT;
    if (ntok > 3)
        return OH_EUNSUPPORTED; /* session parameters */
    uint64_t v;
    if (parse_uint(tok[0], tlen[0], 999999999u, &v) || tlen[0] > 9)
        return OH_EFORMAT;
    out->tag = (int)v;
    int suite = oh_srtp_suite_from_name(tok[1], tlen[1]);
    if (suite < 0)
        return OH_EUNSUPPORTED;
    out->suite = (oh_srtp_suite)suite;
    const char *kp = tok[2];
    size_t kl = tlen[2];
    for (size_t k = 0; k < kl; k++)
        if (kp[k] == ';')
            return OH_EUNSUPPORTED; /* several keys */
    if (kl < 7 || memcmp(kp, "inline:", 7) != 0)
        return OH_EFORMAT;
    kp += 7;
    kl -= 7;
    /* key | lifetime | MKI:len */
    const char *field[3];
    size_t flen[3];
    int nf = 0;
    size_t s0 = 0;
    for (size_t k = 0; k <= kl; k++) {
        if (k == kl || kp[k] == '|') {
            if (nf == 3)
                return OH_EFORMAT;
            field[nf] = kp + s0;
            flen[nf] = k - s0;
            nf++;
            s0 = k + 1;
        }
    }
    int keylen = oh_srtp_key_len(suite);
    if (b64_decode(field[0], flen[0], out->key, sizeof out->key) != keylen)
        return OH_EFORMAT;
    for (int f = 1; f < nf; f++) {
        const char *p = field[f];
        size_t pl = flen[f];
        const char *colon = memchr(p, ':', pl);
        if (colon) {
            if (f != nf - 1 || out->mki_len)
                return OH_EFORMAT;
            uint64_t mv, ml;
            if (parse_uint(p, (size_t)(colon - p), 0xffffffffu, &mv) ||
                parse_uint(colon + 1, pl - (size_t)(colon - p) - 1, 128, &ml) || ml < 1)
                return OH_EFORMAT;
            if (ml < 4 && mv >> (8 * ml))
                return OH_EFORMAT; /* the value does not fit its length */
            out->mki = (uint32_t)mv;
            out->mki_len = (int)ml;
        } else {
            if (f != 1)
                return OH_EFORMAT;
            if (pl > 2 && p[0] == '2' && p[1] == '^') {
                uint64_t e;
                if (parse_uint(p + 2, pl - 2, 48, &e))
                    return OH_EFORMAT;
                out->lifetime = (uint64_t)1 << e;
            } else if (parse_uint(p, pl, (uint64_t)1 << 48, &out->lifetime) || out->lifetime == 0) {
                return OH_EFORMAT;
            }
        }
    }
    return OH_OK;
}

int oh_srtp_sdes_format(const oh_srtp_sdes *sd, char *out, size_t cap)
{
    if (!sd || !out || sd->tag < 1 || sd->tag > 999999999 || sd->mki_len < 0 || sd->mki_len > 128 ||
        sd->lifetime > ((uint64_t)1 << 48))
        return OH_EINVAL;
    int keylen = oh_srtp_key_len((int)sd->suite);
    if (keylen < 0)
        return OH_EINVAL;
    char buf[160];
    char key[48];
    size_t kl = b64_encode(sd->key, (size_t)keylen, key);
    key[kl] = 0;
    int n = snprintf(buf, sizeof buf, "%d %s inline:%s", sd->tag, suite_names[sd->suite], key);
    if (sd->lifetime) {
        int e = 0;
        while (e < 48 && ((uint64_t)1 << e) != sd->lifetime)
            e++;
        if (((uint64_t)1 << e) == sd->lifetime)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "|2^%d", e);
        else
            n += snprintf(buf + n, sizeof buf - (size_t)n, "|%llu", (unsigned long long)sd->lifetime);
    }
    if (sd->mki_len)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "|%lu:%d", (unsigned long)sd->mki, sd->mki_len);
    if ((size_t)n + 1 > cap)
        return OH_EBUFSIZE;
    memcpy(out, buf, (size_t)n + 1);
    return n;
}

oh_status oh_srtp_random_key(uint8_t *key, size_t len)
{
    if (!key)
        return OH_EINVAL;
    size_t got = 0;
    while (got < len) {
        ssize_t r = getrandom(key + got, len - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OH_EIO;
        }
        got += (size_t)r;
    }
    return OH_OK;
}
