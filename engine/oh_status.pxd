cdef extern from "offhook/oh_status.h":
    ctypedef enum oh_status:
        OH_OK
        OH_EINVAL
        OH_ENOMEM
        OH_EBUFSIZE
        OH_EBADPKT
        OH_ESTATE
        OH_EUNSUPPORTED
        OH_EIO
        OH_EFORMAT
        OH_EINTERNAL
    const char *oh_strerror(int status)
