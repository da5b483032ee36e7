package dev.blockterm.tensor;

import org.nd4j.linalg.factory.Nd4j;

/** The native BLAS's thread count (OpenBLAS, as ND4J ships it): one setting for the whole process. */
public final class BlasThreads {

    private BlasThreads() {
    }

    public static int get() {
        Nd4j.getExecutioner(); // the native libraries loaded as ND4J loads them
        return org.bytedeco.openblas.global.openblas.blas_get_num_threads();
    }

    /** Sets it (at least 1). */
    public static void set(int threads) {
        Nd4j.getExecutioner();
        org.bytedeco.openblas.global.openblas.blas_set_num_threads(Math.max(1, threads));
    }
}
