// PNG encoding through libpng into a growing memory buffer.
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "CImageCodecs.h"
#include "codec_support.h"

typedef struct {
    uint8_t *bytes;
    size_t size;
    size_t capacity;
    char *err;
    size_t errlen;
} png_memory_writer;

static void on_png_write_error(png_structp png, png_const_charp message) {
    png_memory_writer *writer = png_get_error_ptr(png);
    zf_set_error(writer->err, writer->errlen, "PNG encode: %s", message);
    png_longjmp(png, 1);
}

static void on_png_write_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void write_to_memory(png_structp png, png_bytep source, size_t count) {
    png_memory_writer *writer = png_get_io_ptr(png);
    if (count > writer->capacity - writer->size) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (count > capacity - writer->size) capacity *= 2;
        uint8_t *grown = realloc(writer->bytes, capacity);
        if (grown == NULL) png_error(png, "out of memory");
        writer->bytes = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->bytes + writer->size, source, count);
    writer->size += count;
}

static void flush_nothing(png_structp png) { (void)png; }

int zf_png_encode(const uint8_t *pixels, int width, int height, int channels,
                  uint8_t **out, size_t *out_size, char *err, size_t errlen) {
    static const int color_types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    *out = NULL;
    *out_size = 0;
    if (pixels == NULL || width <= 0 || height <= 0 || channels < 1 || channels > 4) {
        zf_set_error(err, errlen, "PNG encode: invalid image %dx%d with %d channels", width, height, channels);
        return ZF_ERR_ARGUMENT;
    }
    png_memory_writer writer = {NULL, 0, 0, err, errlen};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, on_png_write_error, on_png_write_warning);
    if (png == NULL) {
        zf_set_error(err, errlen, "PNG encode: out of memory");
        return ZF_ERR_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(writer.bytes);
        return info == NULL ? ZF_ERR_MEMORY : ZF_ERR_CORRUPT;
    }
    png_set_write_fn(png, &writer, write_to_memory, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_types[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = writer.bytes;
    *out_size = writer.size;
    return ZF_OK;
}
