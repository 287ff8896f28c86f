#include <cblas.h>
#include "lapack_shim.h"
