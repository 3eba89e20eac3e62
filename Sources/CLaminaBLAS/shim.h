#ifndef CLAMINABLAS_SHIM_H
#define CLAMINABLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
