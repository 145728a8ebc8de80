/* offhook status codes: the one error vocabulary of the C core.
 *
 * Every fallible call returns an oh_status (0 on success, a negative OH_E* code
 * otherwise). Functions that count (bytes written, samples produced) return a
 * value >= 0 on success or a negative oh_status. The core never prints, exits or
 * aborts: the caller decides what an error means. */
#ifndef OFFHOOK_OH_STATUS_H
#define OFFHOOK_OH_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oh_status {
    OH_OK = 0,
    OH_EINVAL = -1,       /* an argument is out of range or inconsistent */
    OH_ENOMEM = -2,       /* allocation failed (only at create time) */
    OH_EBUFSIZE = -3,     /* the output buffer is too small */
    OH_EBADPKT = -4,      /* a payload or packet is malformed */
    OH_ESTATE = -5,       /* the call is not valid in the object's current state */
    OH_EUNSUPPORTED = -6, /* a valid request this build or codec does not support */
    OH_EIO = -7,          /* reading or writing a file or socket failed */
    OH_EFORMAT = -8,      /* a file's contents are not in the expected format */
    OH_EINTERNAL = -9     /* a library underneath reported an error */
} oh_status;

/* A short, static, human-readable description of a status code. Never NULL. */
const char *oh_strerror(int status);

#ifdef __cplusplus
}
#endif

#endif
