// libpng's simplified reading API (Debian: libpng-dev); its format macros wrapped for Swift.
#include <png.h>
#include <string.h>

static inline unsigned lamina_png_version(void) { return PNG_IMAGE_VERSION; }
static inline unsigned lamina_png_format(int channels) {
    return channels == 1 ? PNG_FORMAT_GRAY : channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
}
static inline void lamina_png_clear(png_image *image) { memset(image, 0, sizeof *image); image->version = PNG_IMAGE_VERSION; }
