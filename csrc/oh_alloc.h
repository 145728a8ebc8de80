/* The core's only route to the heap.
 *
 * Every allocation goes through oh_alloc()/oh_free(). The library links
 * oh_alloc.c (plain calloc/free); the C tests link a replacement that fails
 * the Nth allocation, which is how every _create is shown to return
 * OH_ENOMEM cleanly and leak nothing. Allocation happens only in _create
 * functions, never per frame. */
#ifndef OFFHOOK_OH_ALLOC_H
#define OFFHOOK_OH_ALLOC_H

#include <stddef.h>

/* Zero-initialised, like calloc(1, size). NULL on failure or size 0. */
void *oh_alloc(size_t size);
void oh_free(void *ptr);

#endif
