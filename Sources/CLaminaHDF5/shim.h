// HDF5's C API (Debian: libhdf5-dev). Its type and property-list identifiers are macros that
// call into the library, which Swift cannot import, so they are wrapped here.
#include <hdf5.h>

static inline hid_t lamina_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t lamina_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t lamina_h5s_all(void) { return H5S_ALL; }
static inline hid_t lamina_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t lamina_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline unsigned lamina_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
/// Turns off HDF5's printing of error stacks; Lamina reports errors itself.
static inline void lamina_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
// Writing (a Keras weights file built in memory with the core driver).
static inline hid_t lamina_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned lamina_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t lamina_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t lamina_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t lamina_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
