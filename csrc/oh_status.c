#include "offhook/oh_status.h"

const char *oh_strerror(int status)
{
    switch (status) {
    case OH_OK: return "success";
    case OH_EINVAL: return "invalid argument";
    case OH_ENOMEM: return "out of memory";
    case OH_EBUFSIZE: return "output buffer too small";
    case OH_EBADPKT: return "malformed packet or payload";
    case OH_ESTATE: return "invalid in the current state";
    case OH_EUNSUPPORTED: return "not supported";
    case OH_EIO: return "input/output error";
    case OH_EFORMAT: return "unrecognised or malformed file format";
    case OH_EINTERNAL: return "internal library error";
    default: return status > 0 ? "not an error code" : "unknown error";
    }
}
