/* Error codes shared by the mpiflow runtime and its plugins (public API).
 * 0 is success; every failure is a negative MPF_E* value. The list is kept
 * once, as an X-macro, so names and messages cannot drift apart. */
#ifndef MPIFLOW_ERROR_H
#define MPIFLOW_ERROR_H

#define MPF_ERROR_LIST(X)                                              \
    X(OK, 0, "success")                                                \
    X(EINVAL, -1, "invalid argument")                                  \
    X(ENOMEM, -2, "out of memory")                                     \
    X(EIO, -3, "input/output error")                                   \
    X(ENOENT, -4, "not found")                                         \
    X(ECONFIG, -5, "configuration error")                              \
    X(EJOB, -6, "job definition error")                                \
    X(EPLAN, -7, "plan error")                                         \
    X(ESCHEMA, -8, "schema mismatch")                                  \
    X(EPARSE, -9, "record parse error")                                \
    X(ERANGE, -10, "value out of range")                               \
    X(ETOOBIG, -11, "record larger than a network buffer")             \
    X(EMPI, -12, "MPI error")                                          \
    X(ECANCELED, -13, "canceled")                                      \
    X(EAGAIN, -14, "more work pending")                                \
    X(ERESOURCE, -15, "not enough task slots")

typedef enum mpf_errcode {
#define MPF_ERR_ENUM_(name, val, msg) MPF_##name = (val),
    MPF_ERROR_LIST(MPF_ERR_ENUM_)
#undef MPF_ERR_ENUM_
} mpf_errcode;

/* Human-readable message for an error code; never NULL. */
const char *mpf_strerror(int code);
/* Symbolic name ("MPF_EIO") for an error code; never NULL. */
const char *mpf_err_name(int code);

#endif
