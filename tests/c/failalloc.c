/* An oh_alloc/oh_free for tests: counts live blocks and fails on request.
 * Test code, so the counters may be file-scope state. */
#include <stdlib.h>

#include "failalloc.h"
#include "oh_alloc.h"

static long countdown;
static long outstanding;

void failalloc_fail_at(long nth)
{
    countdown = nth;
}

long failalloc_outstanding(void)
{
    return outstanding;
}

void *oh_alloc(size_t size)
{
    if (!size)
        return NULL;
    if (countdown > 0 && --countdown == 0)
        return NULL;
    void *p = calloc(1, size);
    if (p)
        outstanding++;
    return p;
}

void oh_free(void *ptr)
{
    if (ptr)
        outstanding--;
    free(ptr);
}
