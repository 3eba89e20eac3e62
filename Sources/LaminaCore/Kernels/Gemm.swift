import CLaminaBLAS

extension Kernels {
    /// Makes the backend's choices once, before the first BLAS call: OpenBLAS's kernel set
    /// (`BLASCoreChoice`) and one BLAS thread per call (`gemm` splits large products itself).
    static let backendReady: Void = {
        _ = BLASCoreChoice.initial
        lamina_blas_set_threads(1)
    }()

    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices, through cblas sgemm/dgemm.
    /// `m×k` is op(A), `k×n` is op(B); leading dimensions are those of the stored matrices.
    /// Large products are split across the cores along the longer side of C, each part one
    /// single-threaded BLAS call.

    static func gemm<T: FloatScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T = 1, _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
        beta: T = 0, _ c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = backendReady
        let cores = ThreadCount.current
        guard cores > 1, m * n * k >= gemmParallelThreshold, max(m, n) >= 32 * cores else {
            blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        nonisolated(unsafe) let (a, b, c) = (a, b, c)
        if m >= n {  // split rows of C: rows of op(A)
            parallelFor(m, grain: 16) { r in
                let aPart = transA ? a + r.lowerBound : a + r.lowerBound * lda
                blasGemm(transA, transB, r.count, n, k, alpha, aPart, lda, b, ldb, beta, c + r.lowerBound * ldc, ldc)
            }
        } else {     // split columns of C: columns of op(B)
            parallelFor(n, grain: 16) { r in
                let bPart = transB ? b + r.lowerBound * ldb : b + r.lowerBound
                blasGemm(transA, transB, m, r.count, k, alpha, a, lda, bPart, ldb, beta, c + r.lowerBound, ldc)
            }
        }
    }


    static func blasGemm<T: FloatScalar>(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: T, _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
        _ beta: T, _ c: UnsafeMutablePointer<T>, _ ldc: Int
    ) {
        _ = backendReady
        let ta = transA ? CblasTrans : CblasNoTrans
        let tb = transB ? CblasTrans : CblasNoTrans
        switch T.dtype {
        case .float32:
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Float(alpha),
                        UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), Int32(lda),
                        UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), Int32(ldb), Float(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), Int32(ldc))
        case .float64:
            cblas_dgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Double(alpha),
                        UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), Int32(lda),
                        UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), Int32(ldb), Double(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), Int32(ldc))
        case .int32:
            preconditionFailure("gemm: int32 is not supported")
        }
    }
}
