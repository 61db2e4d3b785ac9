// CBLAS: OpenBLAS's CBLAS interface (cblas_sgemm, cblas_dgemm, ...) and its thread/kernel controls
// (openblas_set_num_threads, openblas_get_corename). Debian installs the OpenBLAS cblas.h through
// alternatives; the trainer is the only user.
#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
#include <cblas.h>
#endif
