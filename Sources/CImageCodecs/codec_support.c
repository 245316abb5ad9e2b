// Error messages and buffer ownership shared by the PNG and JPEG wrappers.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CImageCodecs.h"
#include "codec_support.h"

void zf_set_error(char *err, size_t errlen, const char *format, ...) {
    if (err == NULL || errlen == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

void zf_store_copy(uint8_t **buffer, size_t *buffer_size, const uint8_t *bytes, size_t size) {
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) return;
    if (size > 0) memcpy(copy, bytes, size);
    free(*buffer);
    *buffer = copy;
    *buffer_size = size;
}

void zf_append(uint8_t **buffer, size_t *buffer_size, const uint8_t *bytes, size_t size) {
    uint8_t *grown = realloc(*buffer, *buffer_size + size + 1);
    if (grown == NULL) return;
    memcpy(grown + *buffer_size, bytes, size);
    *buffer = grown;
    *buffer_size += size;
}

void zf_image_free(zf_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    free(image->exif);
    free(image->xmp);
    free(image->exif_profile);
    memset(image, 0, sizeof *image);
}

void zf_buffer_free(uint8_t *buffer) { free(buffer); }
