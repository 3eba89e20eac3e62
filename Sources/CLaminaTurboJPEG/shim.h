// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev): errors are return codes, not longjmp.
#include <turbojpeg.h>
