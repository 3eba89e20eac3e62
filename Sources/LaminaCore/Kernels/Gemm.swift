import CLaminaBLAS
import CLaminaKernels

extension Kernels {
    /// Makes the backend's choices once, before the first BLAS call: OpenBLAS's kernel set
    /// (`BLASCoreChoice`) and one BLAS thread per call (`gemm` splits large products itself).
    static let backendReady: Void = {
        _ = BLASCoreChoice.initial
        lamina_blas_set_threads(1)
    }()

    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices. `m×k` is op(A), `k×n` is op(B);
    /// leading dimensions are those of the stored matrices. Float32 products run Lamina's own
    /// GEMM (CLaminaKernels' `sgemm`, threads of Lamina's pool) where `GemmChoice` says so, the
    /// others cblas sgemm/dgemm: large products split across the cores along the longer side
    /// of C, each part one single-threaded BLAS call.

    static func gemm<T: FloatScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T = 1, _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
        beta: T = 0, _ c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = backendReady
        if T.self == Float.self, useOwnGemm(m: m, n: n, k: k) {
            let status = simd.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, Float(alpha), floats(a), lda,
                                    floats(b), ldb, Float(beta), floats(c), ldc, ThreadCount.current)
            if status == 0 { return }  // else its packing buffer could not be allocated: the BLAS runs it
        }
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


    /// Whether a float32 product runs Lamina's own GEMM (`GemmChoice`).
    @inline(__always) static func useOwnGemm(m: Int, n: Int, k: Int) -> Bool {
        switch GemmChoice.current {
        case .own: return true
        case .blas: return false
        case .auto: return GemmChoice.ownRuns(m: m, n: n, k: k, ownLevel: Int(simd.level), blasLevel: GemmChoice.blasLevel)
        }
    }

    /// Lamina's own float32 GEMM at one SIMD level (for tests and benchmarks): the same contract
    /// as `gemm`; `threads` threads of Lamina's pool. Throws when the level is above this CPU's.
    public static func ownSgemm(level: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = 1) throws {
        guard let table = lamina_kernels_for_level(Int32(level)) else { throw UnsupportedSIMDLevel(level: level) }
        let status = table.pointee.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
        if status != 0 { throw GemmBufferUnavailable() }
    }

    /// C = alpha·op(A)·op(B) + beta·C in float32, row-major, as every matmul of Lamina runs it:
    /// the engine `GemmChoice` picks, on `ThreadCount.current` threads.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
    }

    /// One product on the calling thread alone (a core's share inside a parallel loop): the own
    /// GEMM where `GemmChoice` runs it, so the speed does not hang on OpenBLAS's kernel set,
    /// else one single-threaded BLAS call. The same contract as `gemm`.
    static func gemmOnThisThread<T: FloatScalar>(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: T, _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
        _ beta: T, _ c: UnsafeMutablePointer<T>, _ ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = backendReady
        if T.self == Float.self, useOwnGemm(m: m, n: n, k: k),
           simd.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, Float(alpha), floats(a), lda,
                      floats(b), ldb, Float(beta), floats(c), ldc, 1) == 0 {
            return
        }
        blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Runs `body` with `product`, which computes C = alpha·op(A)·op(B) + beta·C for one fixed
    /// op(B) [k×n] and any op(A) [m×k], on the calling thread alone — the steps of a recurrence
    /// against its recurrent weights, one block of rows per core. Where the own GEMM runs the
    /// product (`GemmChoice`, float32), op(B) is packed here once for all of them; otherwise each
    /// product is `gemmOnThisThread`. `m` is the rows a product will have (for the choice).
    static func withRepeatedProduct<T: FloatScalar, R>(
        transB: Bool, n: Int, k: Int, _ b: UnsafePointer<T>, ldb: Int, rows m: Int,
        _ body: (RepeatedProduct<T>) throws -> R
    ) rethrows -> R {
        _ = backendReady
        let table = simd
        let floatCount = T.self == Float.self && n > 0 && k > 0 && useOwnGemm(m: m, n: n, k: k)
            ? table.sgemm_packed_b_floats(n, k) : 0
        guard floatCount > 0 else {
            return try body(RepeatedProduct(transB: transB, n: n, k: k, b: b, ldb: ldb, packed: nil, table: table))
        }
        let packed = UnsafeMutableRawPointer.allocate(byteCount: floatCount * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: floatCount)
        defer { packed.deallocate() }
        table.sgemm_pack_b(transB ? 1 : 0, n, k, floats(b), ldb, packed)
        return try body(RepeatedProduct(transB: transB, n: n, k: k, b: b, ldb: ldb, packed: packed, table: table))
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

/// A SIMD level this CPU (or build) cannot run, asked of `Kernels.ownSgemm`.
public struct UnsupportedSIMDLevel: Error, CustomStringConvertible {
    /// The level asked for.
    public let level: Int
    /// The message, with the highest level this CPU runs.
    public var description: String { "SIMD level \(level) is not available on this CPU (highest: \(lamina_simd_max_level()))" }
}

/// The own GEMM could not allocate its packing buffer.
public struct GemmBufferUnavailable: Error, CustomStringConvertible {
    /// The message.
    public var description: String { "sgemm: the packing buffer could not be allocated" }
}

/// Products against one op(B), each on the calling thread (`Kernels.withRepeatedProduct`). It
/// holds pointers that live only inside that call: it is handed to the cores of one parallel
/// loop there, which only read op(B) and its panels.
struct RepeatedProduct<T: FloatScalar>: @unchecked Sendable {
    let transB: Bool, n: Int, k: Int
    let b: UnsafePointer<T>, ldb: Int
    /// op(B) packed for the own GEMM of `table`, or nil: then each product is `gemmOnThisThread`.
    let packed: UnsafeMutablePointer<Float>?
    let table: lamina_kernel_table

    /// C = alpha·op(A)·op(B) + beta·C for op(A) [m×k].
    func callAsFunction(transA: Bool = false, m: Int, alpha: T = 1, _ a: UnsafePointer<T>, lda: Int,
                        beta: T, _ c: UnsafeMutablePointer<T>, ldc: Int) {
        guard let packed else {
            Kernels.gemmOnThisThread(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        table.sgemm_packed(transA ? 1 : 0, m, n, k, Float(alpha), floats(a), lda, packed, Float(beta), floats(c), ldc)
    }
}
