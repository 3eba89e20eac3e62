import CLaminaBLAS

extension Kernels {
    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices, through cblas sgemm/dgemm.
    /// `m×k` is op(A), `k×n` is op(B); leading dimensions are those of the stored matrices.
    @inlinable
    static func gemm<T: FloatScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T = 1, _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
        beta: T = 0, _ c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
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
