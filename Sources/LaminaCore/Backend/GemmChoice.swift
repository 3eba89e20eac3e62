import CLaminaKernels
import Foundation
import Synchronization

/// Which GEMM computes float32 matrix products.
public enum GemmEngine: String, Sendable, CaseIterable {
    /// Lamina's own packed, register-blocked kernels (`CLaminaKernels`, gemm_impl.h) at the SIMD
    /// level of its other kernels, on Lamina's thread pool.
    case own
    /// The BLAS (`cblas_sgemm`), large products split across the cores, one BLAS thread each.
    case blas
    /// Per product, by the rule `GemmChoice.ownRuns` measured with `lamina-bench gemm-table`.
    case auto
}

/// The choice between Lamina's own GEMM and the BLAS for float32 products (float64 always runs
/// the BLAS: it serves gradient checks). `LAMINA_GEMM=own|blas|auto` sets it at start,
/// `GemmChoice.set(_:)` at any time; `ComputeBackend.current` shows it.
///
/// The `auto` rule (`ownRuns`) comes from `Benchmarks/results/gemm_table_zen4_20261205.md`: the
/// own kernels against OpenBLAS 0.3.21 with its AVX-512 (Cooperlake) and its AVX2 (Haswell)
/// kernels, over the shapes of Lamina's models. It depends on the kernel set OpenBLAS runs, so
/// the speed holds whichever one is loaded (`OPENBLAS_CORETYPE`).
public enum GemmChoice {
    private static let setting = Atomic<Int>(index(initial.engine))
    private static let reasonBox = Mutex(initial.reason)
    private static let initial = decide(environment: ProcessInfo.processInfo.environment)

    private static func index(_ e: GemmEngine) -> Int { GemmEngine.allCases.firstIndex(of: e)! }

    /// The engine in use now.
    public static var current: GemmEngine { GemmEngine.allCases[setting.load(ordering: .relaxed)] }

    /// Why it is the one it is ("LAMINA_GEMM=own", "GemmChoice.set(.blas)", "default").
    public static var reason: String { reasonBox.withLock { $0 } }

    /// Uses `engine` for float32 products from the next one on.
    public static func set(_ engine: GemmEngine) {
        setting.store(index(engine), ordering: .relaxed)
        reasonBox.withLock { $0 = "GemmChoice.set(.\(engine.rawValue))" }
    }

    /// Sets the engine by name ("own", "blas", "auto"); throws for any other name.
    public static func set(named name: String) throws {
        guard let engine = GemmEngine(rawValue: name.lowercased()) else { throw InvalidGemmEngine(name: name) }
        set(engine)
    }

    static func decide(environment: [String: String]) -> (engine: GemmEngine, reason: String) {
        guard let text = environment["LAMINA_GEMM"], !text.isEmpty else { return (.auto, "default") }
        if let engine = GemmEngine(rawValue: text.lowercased()) { return (engine, "LAMINA_GEMM=\(text)") }
        return (.auto, "LAMINA_GEMM=\(text) is not one of own, blas, auto; using auto")
    }

    /// The rank of the own kernels' SIMD level on the scale of `BLASCoreChoice.coreLevels`
    /// (0 SSE, 1 AVX, 2 AVX2, 3 AVX-512).
    static func rank(ownLevel: Int) -> Int {
        switch ownLevel {
        case Int(LAMINA_SIMD_AVX512): return 3
        case Int(LAMINA_SIMD_AVX2): return 2
        default: return 0
        }
    }

    /// Whether the own GEMM runs the float32 product op(A)[m×k]·op(B)[k×n] under `auto`.
    ///
    /// - Parameters:
    ///   - m: the rows of op(A) and of the product.
    ///   - n: the columns of op(B) and of the product.
    ///   - k: the inner dimension.
    ///   - ownLevel: the SIMD level of the own kernels (`LAMINA_SIMD_*`).
    ///   - blasLevel: the rank of the OpenBLAS core loaded (`BLASCoreChoice.coreLevels`); nil when
    ///     the BLAS is not OpenBLAS or its core is not ranked (then it is taken to be as wide).
    ///
    /// Measured (gemm_table_zen4_20261205.md, one thread, AMD EPYC Zen 4, OpenBLAS 0.3.21):
    /// - n < 16 (a 10-class output layer, a 1-unit discriminator head): OpenBLAS wins with
    ///   either core (60–95 vs 30–42 GFLOP/s at n = 10; 11–53 vs 5 at n = 1): its kernels for
    ///   narrow C beat a tile 16 floats wide that keeps 10 of them.
    /// - own kernels narrower than the loaded core (LAMINA_SIMD=portable, say): the BLAS.
    /// - own kernels wider than the loaded core (AVX-512 against Haswell's AVX2 or Prescott's
    ///   SSE3): own, whatever the shape (m = 1: 23 vs 10 GFLOP/s).
    /// - the same width: m ≤ 4 rows (batch-1 inference) the BLAS when its kernels are AVX-512
    ///   (43 vs 23 at m = 1, a tie at m = 8); every other measured shape own (0.95–1.5×
    ///   OpenBLAS's speed).
    ///
    /// And on AVX2 against OpenBLAS's AVX2 kernels (gemm_table_zen3_20261206.md, AMD EPYC Zen 3,
    /// OpenBLAS's Zen core): m ≤ 4 rows own as well: OpenBLAS's AVX2 kernels run one row at 7
    /// GFLOP/s against the own 16 (m = 1, n = 128, k = 784; 40 against 51 at m = 4), as
    /// Haswell's did against the own AVX-512 ones on Zen 4; the other shapes as on Zen 4.
    public static func ownRuns(m: Int, n: Int, k: Int, ownLevel: Int, blasLevel: Int?) -> Bool {
        if n < 16 { return false }
        let own = rank(ownLevel: ownLevel)
        let blas = blasLevel ?? 3
        if own < blas { return false }
        if own > blas { return true }
        return m > 4 || blas == 2
    }

    /// Whether `auto` runs this float32 product on the own GEMM here (this CPU's SIMD level and
    /// the OpenBLAS core loaded).
    public static func autoRunsOwn(m: Int, n: Int, k: Int) -> Bool {
        ownRuns(m: m, n: n, k: k, ownLevel: Int(Kernels.simd.level), blasLevel: blasLevel)
    }

    /// The loaded OpenBLAS core's rank, read once (the core is chosen before the first product
    /// and not switched afterwards, except by the test-only restart).
    static let blasLevel: Int? = {
        _ = Kernels.backendReady
        return lamina_openblas_corename().flatMap { BLASCoreChoice.coreLevels[String(cString: $0).lowercased()] }
    }()

    /// The rule in words, for `ComputeBackend`'s description.
    static func summary(ownLevel: Int, blasCore: String?) -> String {
        let table = lamina_kernels_for_level(Int32(ownLevel))!.pointee
        let tile = "own \(String(cString: table.name)) \(table.sgemm_mr)×\(table.sgemm_nr) kernels"
        switch current {
        case .own: return "\(tile) for every float32 product (\(reason))"
        case .blas: return "the BLAS for every product (\(reason))"
        case .auto:
            let own = rank(ownLevel: ownLevel), blas = blasLevel ?? 3
            let core = blasCore ?? "the BLAS"
            if own < blas { return "auto: \(core) (wider than the own \(String(cString: table.name)) kernels) for every product" }
            if own > blas { return "auto: \(tile) (wider than \(core)'s) except n < 16 (\(core))" }
            return blas == 2 ? "auto: \(tile) except n < 16 (\(core))" : "auto: \(tile) except n < 16 or m ≤ 4 (\(core))"
        }
    }
}

/// A name given to `GemmChoice.set(named:)` that is not an engine.
public struct InvalidGemmEngine: Error, CustomStringConvertible {
    /// The name given.
    public let name: String
    /// The message, with the names that work.
    public var description: String { "GemmChoice.set(named:): \"\(name)\"; give own, blas or auto" }
}
