// Helpers shared by the codec wrappers (not part of the public C interface).
#pragma once
#include <stddef.h>
#include <stdint.h>

/// printf-style message into the caller's error buffer (always terminated).
void zf_set_error(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/// Replaces *buffer with a malloc'd copy of `size` bytes (a no-op when out of memory).
void zf_store_copy(uint8_t **buffer, size_t *buffer_size, const uint8_t *bytes, size_t size);

/// Appends `size` bytes to the malloc'd *buffer (a no-op when out of memory).
void zf_append(uint8_t **buffer, size_t *buffer_size, const uint8_t *bytes, size_t size);
