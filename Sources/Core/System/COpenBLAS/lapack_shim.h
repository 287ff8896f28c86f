// LAPACK routines used by PEFTKit, as exported by Debian's libopenblas (Fortran symbols,
// column-major, 32-bit integers). No LAPACKE header is needed: the prototypes are declared
// here. The trailing size_t is gfortran's hidden length of the character argument.
#pragma once
#include <stddef.h>

void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt,
             double *work, const int *lwork, int *iwork, int *info, size_t jobz_len);
