// PNG decoding through libpng, from memory, with libpng's longjmp kept inside.
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "CImageCodecs.h"
#include "codec_support.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    char *err;
    size_t errlen;
} png_memory_reader;

static void on_png_error(png_structp png, png_const_charp message) {
    png_memory_reader *reader = png_get_error_ptr(png);
    zf_set_error(reader->err, reader->errlen, "%s", message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void read_from_memory(png_structp png, png_bytep destination, size_t count) {
    png_memory_reader *reader = png_get_io_ptr(png);
    if (count > reader->size - reader->position) {
        png_error(png, "unexpected end of data (file truncated)");
    }
    memcpy(destination, reader->data + reader->position, count);
    reader->position += count;
}

static int layout_for_color_type(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return ZF_GRAY;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return ZF_GRAY_ALPHA;
    case PNG_COLOR_TYPE_RGB: return ZF_RGB;
    case PNG_COLOR_TYPE_RGB_ALPHA: return ZF_RGBA;
    default: return 0;
    }
}

static void copy_metadata(png_structp png, png_infop info, zf_image *out) {
    png_uint_32 exif_size = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif != NULL) {
        zf_store_copy(&out->exif, &out->exif_size, exif, exif_size);
    }
    png_textp texts = NULL;
    int count = png_get_text(png, info, &texts, NULL);
    for (int i = 0; i < count; i++) {
        if (texts[i].key == NULL || texts[i].text == NULL) continue;
        size_t length = texts[i].compression >= PNG_ITXT_COMPRESSION_NONE ? texts[i].itxt_length : texts[i].text_length;
        if (strcmp(texts[i].key, "XML:com.adobe.xmp") == 0) {
            zf_store_copy(&out->xmp, &out->xmp_size, (const uint8_t *)texts[i].text, length);
        } else if (strcmp(texts[i].key, "Raw profile type exif") == 0) {
            zf_store_copy(&out->exif_profile, &out->exif_profile_size, (const uint8_t *)texts[i].text, length);
        }
    }
}

int zf_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                  zf_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (data == NULL || size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        zf_set_error(err, errlen, "missing PNG signature");
        return ZF_ERR_CORRUPT;
    }
    png_memory_reader reader = {data, size, 8, err, errlen};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_png_error, on_png_warning);
    if (png == NULL) {
        zf_set_error(err, errlen, "out of memory");
        return ZF_ERR_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        zf_set_error(err, errlen, "out of memory");
        return ZF_ERR_MEMORY;
    }

    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile int status = ZF_ERR_CORRUPT;
    volatile int pixels_complete = 0;
    if (setjmp(png_jmpbuf(png))) {
        if (!pixels_complete) {
            free(pixels);
            free(rows);
            png_destroy_read_struct(&png, &info, NULL);
            zf_image_free(out);
            return status;
        }
        // The pixels are all there and only the chunks after the image data are
        // damaged: Pillow ignores those too, so keep the image.
        if (err != NULL && errlen > 0) err[0] = 0;
        goto finish;
    }

    png_set_read_fn(png, &reader, read_from_memory);
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        zf_set_error(err, errlen, "the PNG header declares %ux%u pixels, more than the limit of %llu",
                     (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        status = ZF_ERR_TOO_LARGE;
        png_longjmp(png, 1);
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    int layout = layout_for_color_type(png_get_color_type(png, info));
    size_t row_bytes = png_get_rowbytes(png, info);
    if (layout == 0 || png_get_bit_depth(png, info) != 8 || row_bytes != (size_t)width * (size_t)channels) {
        png_error(png, "unsupported pixel layout after expansion");
    }
    pixels = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (pixels == NULL || rows == NULL) {
        zf_set_error(err, errlen, "out of memory for %ux%u pixels", (unsigned)width, (unsigned)height);
        status = ZF_ERR_MEMORY;
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);

    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    out->layout = layout;
    out->source_bit_depth = bit_depth;
    pixels_complete = 1;
    png_read_end(png, info);

finish:
    out->pixels = pixels;
    copy_metadata(png, info, out);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return ZF_OK;
}
