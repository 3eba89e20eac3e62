/* Which OpenBLAS kernel set is in use, and switching it, through symbols looked up at run time:
   a BLAS that is not OpenBLAS (Accelerate, reference BLAS) or an OpenBLAS built for one target
   simply lacks them, and every function here then reports "unsupported". */
#define _GNU_SOURCE
#include "lamina_blas_core.h"
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

const char *lamina_openblas_corename(void) {
    char *(*f)(void) = (char *(*)(void))symbol("openblas_get_corename");
    return f ? f() : NULL;
}

const char *lamina_openblas_config(void) {
    char *(*f)(void) = (char *(*)(void))symbol("openblas_get_config");
    return f ? f() : NULL;
}

int lamina_openblas_has_kernel_table(const char *core) {
    char name[64] = "gotoblas_";
    size_t at = strlen(name);
    for (const char *p = core; *p && at + 1 < sizeof name; p++) name[at++] = (char)toupper((unsigned char)*p);
    name[at] = 0;
    return symbol(name) != NULL;
}

int lamina_openblas_reinit(const char *core) {
    void (*quit)(void) = (void (*)(void))symbol("gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))symbol("gotoblas_dynamic_init");
    if (!quit || !init || !lamina_openblas_has_kernel_table(core)) return -1;
    /* gotoblas_dynamic_init reads OPENBLAS_CORETYPE, as the library's constructor did at load
       time; the variable is set for the call only and the caller's environment restored. */
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    setenv("OPENBLAS_CORETYPE", core, 1);
    quit();
    init();
    if (saved) { setenv("OPENBLAS_CORETYPE", saved, 1); free(saved); } else unsetenv("OPENBLAS_CORETYPE");
    const char *now = lamina_openblas_corename();
    return now && strcasecmp(now, core) == 0 ? 0 : 1;
}
