// Helpers shared by the codec wrappers (not part of the public C interface).
#pragma once
#include <stddef.h>

/// printf-style message into the caller's error buffer (always terminated).
void zf_set_error(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
