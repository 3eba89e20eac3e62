#ifndef LAMINA_BLAS_CORE_H
#define LAMINA_BLAS_CORE_H
/* OpenBLAS's kernel set ("core"), read and switched through symbols looked up at run time. */
#ifdef __cplusplus
extern "C" {
#endif

/* openblas_get_corename() ("Haswell", "SkylakeX", ...), or NULL when the BLAS is not OpenBLAS. */
const char *lamina_openblas_corename(void);
/* openblas_get_config() ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), or NULL. */
const char *lamina_openblas_config(void);
/* Whether the library carries the kernel table of `core` (DYNAMIC_ARCH builds export one
   gotoblas_<CORE> table per CPU they were built for). */
int lamina_openblas_has_kernel_table(const char *core);
/* Restarts OpenBLAS's dispatch with `core`'s kernels, as if the library had been loaded with
   OPENBLAS_CORETYPE=core. Must not run while another thread is inside a BLAS call.
   Returns 0 when the library now reports `core`, 1 when it reports another, −1 when this BLAS
   cannot switch (not OpenBLAS, not DYNAMIC_ARCH, or no such table). */
int lamina_openblas_reinit(const char *core);

#ifdef __cplusplus
}
#endif
#endif
