#ifndef CLAMINAZLIB_SHIM_H
#define CLAMINAZLIB_SHIM_H
#include <zlib.h>
#endif
