// C wrappers around libpng and libjpeg: their error handling is setjmp/longjmp,
// which Swift cannot cross, so every call into those libraries lives here.
// Every function decodes from / encodes to memory and reports failure as a
// return code plus a message in the caller's `err` buffer; nothing longjmps out.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum zf_status {
    ZF_OK = 0,
    ZF_ERR_CORRUPT = 1,   // not a valid / complete file of that format
    ZF_ERR_TOO_LARGE = 2, // header declares more pixels than the caller allows
    ZF_ERR_MEMORY = 3,
    ZF_ERR_ARGUMENT = 4,
};

enum zf_layout {
    ZF_GRAY = 1,       // 1 byte per pixel
    ZF_GRAY_ALPHA = 2, // 2 bytes: gray, alpha
    ZF_RGB = 3,        // 3 bytes
    ZF_RGBA = 4,       // 4 bytes
    ZF_CMYK = 5,       // 4 bytes as stored in the JPEG (Adobe files store them inverted)
};

/// A decoded 8-bit image; free with zf_image_free.
typedef struct zf_image {
    uint8_t *pixels;      // height rows of width * channels bytes, malloc'd
    int width;
    int height;
    int channels;
    int layout;           // enum zf_layout
    int source_bit_depth; // bits per sample in the file (1, 2, 4, 8, 16)
    // Metadata as Pillow's plugins collect it into `info` (each malloc'd, or NULL):
    uint8_t *exif;         // JPEG: the APP1 "Exif\0\0" segments (first one whole, later ones
    size_t exif_size;      //   without their header), PNG: the eXIf chunk's bytes
    uint8_t *xmp;          // JPEG: the last APP1 XMP packet, PNG: the last text chunk
    size_t xmp_size;       //   keyed "XML:com.adobe.xmp"
    uint8_t *exif_profile; // PNG: the last text chunk keyed "Raw profile type exif"
    size_t exif_profile_size;
} zf_image;

/// Decodes a PNG: palette expanded to RGB (RGBA if it has tRNS), gray 1/2/4-bit
/// scaled to 8-bit, 16-bit samples reduced to their high byte, interlacing
/// resolved. Refuses headers declaring more than `max_pixels` pixels before
/// allocating. A bad CRC in any chunk is an error (like Pillow), except in the
/// chunks after the image data, whose damage is ignored (like Pillow's load_end).
int zf_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                  zf_image *out, char *err, size_t errlen);

/// Decodes a baseline or progressive JPEG to gray, RGB, or raw CMYK, with
/// libjpeg's defaults (islow DCT, fancy upsampling) like Pillow. A premature
/// end of data is an error, not a gray-filled image.
int zf_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                   zf_image *out, char *err, size_t errlen);

/// Encodes 8-bit gray (1), gray+alpha (2), RGB (3) or RGBA (4) pixels as PNG
/// into a malloc'd buffer (free with zf_buffer_free).
int zf_png_encode(const uint8_t *pixels, int width, int height, int channels,
                  uint8_t **out, size_t *out_size, char *err, size_t errlen);

void zf_image_free(zf_image *image);
void zf_buffer_free(uint8_t *buffer);
