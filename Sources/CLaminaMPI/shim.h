// Open MPI spells its handles as macros over addresses of library globals
// (MPI_COMM_WORLD is `(MPI_Comm)&ompi_mpi_comm_world`), which Swift cannot import; these
// inline functions hand them over.
#include <mpi.h>

static inline MPI_Comm lamina_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lamina_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype lamina_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lamina_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op lamina_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op lamina_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler lamina_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int lamina_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int lamina_mpi_success(void) { return MPI_SUCCESS; }
static inline int lamina_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline void *lamina_mpi_in_place(void) { return MPI_IN_PLACE; }
