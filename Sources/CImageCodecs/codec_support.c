// Error messages and buffer ownership shared by the PNG and JPEG wrappers.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "CImageCodecs.h"
#include "codec_support.h"

void zf_set_error(char *err, size_t errlen, const char *format, ...) {
    if (err == NULL || errlen == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

void zf_image_free(zf_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    free(image->exif);
    image->pixels = NULL;
    image->exif = NULL;
}

void zf_buffer_free(uint8_t *buffer) { free(buffer); }
