#include "oh_alloc.h"

#include <stdlib.h>

void *oh_alloc(size_t size)
{
    return size ? calloc(1, size) : NULL;
}

void oh_free(void *ptr)
{
    free(ptr);
}
