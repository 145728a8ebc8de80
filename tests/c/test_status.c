#include <string.h>

#include "oh_test.h"

int main(void)
{
    CHECK(strcmp(oh_strerror(OH_OK), "success") == 0);
    for (int code = OH_EINTERNAL; code < 0; code++)
        CHECK(strcmp(oh_strerror(code), "unknown error") != 0);
    CHECK(strcmp(oh_strerror(-1000), "unknown error") == 0);
    CHECK(oh_strerror(7) != NULL);
    TEST_EXIT();
}
