#ifndef BATCHCTL_CHIREDIS_SHIM_H
#define BATCHCTL_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

/* redisContext.errstr is char[128], which Swift imports as a tuple: expose it as a pointer. */
static inline const char *chiredis_errstr(const redisContext *c) { return c->errstr; }
static inline int chiredis_err(const redisContext *c) { return c->err; }
static inline int chiredis_fd(const redisContext *c) { return c->fd; }

#endif
