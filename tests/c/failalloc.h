/* Test-only control of the core's allocator (see failalloc.c). */
#ifndef OFFHOOK_TEST_FAILALLOC_H
#define OFFHOOK_TEST_FAILALLOC_H

/* Make the nth allocation from now on fail (1 = the next one); 0 disables. */
void failalloc_fail_at(long nth);
/* Allocations made and not yet freed. */
long failalloc_outstanding(void);

#endif
