# Status codes become exceptions here and nowhere else (the pyzmq _check_rc idea).
from oh_status cimport OH_EIO, OH_ENOMEM, oh_strerror


cdef inline int check(int status, object error, str context) except -1:
    """Returns status when it is not an error; raises otherwise.

    error is the domain exception (CodecError, ...); context says what was
    being done, so the message reads "G722 encode of 161 samples: invalid argument".
    In per-frame paths, test `status < 0` before calling, so that the context
    string is only formatted on failure.
    """
    if status >= 0:
        return status
    reason = oh_strerror(status).decode("ascii")
    if status == OH_ENOMEM:
        raise MemoryError(f"{context}: {reason}")
    if status == OH_EIO:
        raise OSError(f"{context}: {reason}")
    raise error(f"{context}: {reason}")
