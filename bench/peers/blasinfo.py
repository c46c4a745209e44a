"""Which BLAS this Python process really loaded, and the environment variables that steer it.

Shared by the peer scripts: the answer comes from /proc/self/maps (the libraries mapped into this
process), so a `libblas.so.3` alternative pointing at the reference BLAS is reported as such.
"""
import os

BLAS_ENV = [
    "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE", "GOTO_NUM_THREADS",
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
    "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "LD_PRELOAD", "LD_LIBRARY_PATH",
]


def loaded_blas():
    """Real paths of the BLAS/LAPACK/OpenMP libraries mapped into this process."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if "/" in line else ""
                name = os.path.basename(path)
                if any(k in name for k in ("blas", "lapack", "mkl", "gomp", "iomp")):
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def blas_kind(paths):
    """'openblas', 'mkl', 'reference' (netlib libblas) or 'unknown'."""
    joined = " ".join(paths)
    if "openblas" in joined:
        return "openblas"
    if "mkl" in joined:
        return "mkl"
    if "libblas" in joined:
        return "reference"
    return "unknown"


def env_report():
    """Every BLAS-relevant environment variable, '(unset)' when absent."""
    return {k: os.environ.get(k, "(unset)") for k in BLAS_ENV}
