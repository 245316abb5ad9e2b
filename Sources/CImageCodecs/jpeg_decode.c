// JPEG decoding through libjpeg(-turbo), from memory, with its longjmp kept inside.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "CImageCodecs.h"
#include "codec_support.h"

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *err;
    size_t errlen;
} jpeg_error_handler;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_error_handler *handler = (jpeg_error_handler *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    zf_set_error(handler->err, handler->errlen, "%s", message);
    longjmp(handler->jump, 1);
}

// libjpeg recovers from corrupt data with warnings, as Pillow lets it; but at
// a premature end of data it invents gray pixels, where Pillow reports
// "image file is truncated": make that one an error.
static void on_jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
}

// As JpegImagePlugin's APP handler: Exif segments concatenated (the first with
// its header), the last XMP packet.
static void copy_metadata(j_decompress_ptr cinfo, zf_image *out) {
    static const char exif_header[6] = {'E', 'x', 'i', 'f', 0, 0};
    static const char xmp_header[] = "http://ns.adobe.com/xap/1.0/"; // followed by NUL
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1) continue;
        size_t length = marker->data_length;
        if (length >= 6 && memcmp(marker->data, exif_header, 6) == 0) {
            size_t skip = out->exif == NULL ? 0 : 6;
            zf_append(&out->exif, &out->exif_size, marker->data + skip, length - skip);
        } else if (length >= sizeof xmp_header && memcmp(marker->data, xmp_header, sizeof xmp_header) == 0) {
            zf_store_copy(&out->xmp, &out->xmp_size, marker->data + sizeof xmp_header, length - sizeof xmp_header);
        }
    }
}

int zf_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                   zf_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (data == NULL || size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        zf_set_error(err, errlen, "missing JPEG start-of-image marker");
        return ZF_ERR_CORRUPT;
    }
    struct jpeg_decompress_struct cinfo;
    jpeg_error_handler handler;
    cinfo.err = jpeg_std_error(&handler.base);
    handler.base.error_exit = on_jpeg_error;
    handler.base.emit_message = on_jpeg_message;
    handler.err = err;
    handler.errlen = errlen;

    uint8_t *volatile pixels = NULL;
    volatile int status = ZF_ERR_CORRUPT;
    if (setjmp(handler.jump)) {
        free(pixels);
        zf_image_free(out);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    if ((uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height > max_pixels) {
        zf_set_error(err, errlen, "the JPEG header declares %ux%u pixels, more than the limit of %llu",
                     (unsigned)cinfo.image_width, (unsigned)cinfo.image_height,
                     (unsigned long long)max_pixels);
        status = ZF_ERR_TOO_LARGE;
        longjmp(handler.jump, 1);
    }
    int layout;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        layout = ZF_GRAY;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        layout = ZF_CMYK;
        break;
    default:
        cinfo.out_color_space = JCS_RGB;
        layout = ZF_RGB;
        break;
    }
    copy_metadata(&cinfo, out);
    jpeg_start_decompress(&cinfo);

    size_t row_bytes = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(row_bytes * cinfo.output_height);
    if (pixels == NULL) {
        zf_set_error(err, errlen, "out of memory for %ux%u pixels",
                     (unsigned)cinfo.output_width, (unsigned)cinfo.output_height);
        status = ZF_ERR_MEMORY;
        longjmp(handler.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);

    out->pixels = pixels;
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->channels = cinfo.output_components;
    out->layout = layout;
    out->source_bit_depth = 8;
    jpeg_destroy_decompress(&cinfo);
    return ZF_OK;
}
