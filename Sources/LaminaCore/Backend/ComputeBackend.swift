import CLaminaBLAS
import CLaminaKernels
import Foundation

/// How Lamina computes on this machine: the BLAS library and the kernel set it runs, the SIMD
/// level of Lamina's own kernels, and the threads — with the reason for each choice.
///
/// Both choices are made once, before the first kernel runs:
/// - **BLAS core.** An OpenBLAS built with DYNAMIC_ARCH picks its kernels from CPUID when it is
///   loaded and falls back to generic SSE3 ones ("Prescott") on CPUs newer than its release —
///   4–5× slower GEMM on a current Xeon. Lamina compares the reported core with the best one
///   the CPU (and the OS) supports and the library carries, and restarts OpenBLAS's dispatch
///   with that one (`BLASCoreChoice.decide`). `OPENBLAS_CORETYPE` set by the user always wins;
///   `LAMINA_BLAS_CORE=keep` turns the check off; other BLAS libraries are left alone.
/// - **SIMD level** of the kernels in `CLaminaKernels`: the widest the CPU runs (AVX-512, AVX2 +
///   FMA, or the portable baseline), lowered with `LAMINA_SIMD=avx2|portable`.
/// - **GEMM** for float32 products: Lamina's own kernels or the BLAS, per product (`GemmChoice`,
///   `LAMINA_GEMM=own|blas|auto`).
/// - **Winograd** for 3×3 stride-1 float32 convolutions (`WinogradConvolution`,
///   `LAMINA_WINOGRAD=0|1`).
public struct ComputeBackend: Sendable, CustomStringConvertible {
    /// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." or "BLAS (not OpenBLAS)".
    public let blas: String
    /// The kernel set the BLAS reports now ("Cooperlake"), or nil when it does not say.
    public let blasCore: String?
    /// What the BLAS reported when the process started, before Lamina's check.
    public let blasCoreAtLoad: String?
    /// Why the core is the one it is.
    public let blasCoreReason: String
    /// The SIMD level of Lamina's own kernels: "avx512", "avx2" or "portable".
    public let simd: String
    /// Why this SIMD level was chosen (or overridden).
    public let simdReason: String
    /// Cores Lamina splits work across (`ThreadCount`); the BLAS itself runs one thread per call.
    public let threads: Int
    /// Why this thread count was chosen (affinity mask, cgroup quota, `LAMINA_NUM_THREADS`).
    public let threadsReason: String
    /// Which GEMM runs float32 products (`GemmChoice`): "own", "blas" or "auto".
    public let gemm: String
    /// The rule `auto` follows on this machine (which products go to Lamina's kernels, which to the BLAS).
    public let gemmRule: String
    /// Whether 3×3 stride-1 float32 convolutions run by Winograd F(4×4, 3×3) (`WinogradConvolution`).
    public let winograd: Bool
    /// Why it is on or off.
    public let winogradReason: String
    /// The CPU the choice was made for.
    public let cpu: CPUFeatures

    /// The backend in use (the choices above are made on first access).
    public static var current: ComputeBackend {
        _ = Kernels.backendReady
        return describe(coreAtLoad: BLASCoreChoice.initial.coreAtLoad, coreReason: BLASCoreChoice.initial.reason)
    }

    static func describe(coreAtLoad: String?, coreReason: String) -> ComputeBackend {
        let table = lamina_kernels()!.pointee
        let maxLevel = Int(lamina_simd_max_level()), requested = Int(lamina_simd_requested_level())
        let names = ["portable", "avx2", "avx512"]
        let simdReason: String
        switch requested {
        case -1: simdReason = "the widest level this CPU runs"
        case -2: simdReason = "LAMINA_SIMD=\(ProcessInfo.processInfo.environment["LAMINA_SIMD"] ?? "") is not one of portable, avx2, avx512; using the widest level"
        default:
            simdReason = requested > maxLevel
                ? "LAMINA_SIMD=\(names[requested]) asked for more than this CPU runs (\(names[maxLevel]))"
                : "LAMINA_SIMD=\(names[requested])"
        }
        return ComputeBackend(
            blas: lamina_openblas_config().map { String(cString: $0) } ?? "BLAS (not OpenBLAS)",
            blasCore: lamina_openblas_corename().map { String(cString: $0) },
            blasCoreAtLoad: coreAtLoad, blasCoreReason: coreReason,
            simd: String(cString: table.name), simdReason: simdReason,
            threads: ThreadCount.current, threadsReason: ThreadCount.reason,
            gemm: GemmChoice.current.rawValue,
            gemmRule: GemmChoice.summary(ownLevel: Int(table.level), blasCore: lamina_openblas_corename().map { String(cString: $0) }),
            winograd: WinogradConvolution.isEnabled, winogradReason: WinogradConvolution.reason,
            cpu: .host)
    }

    /// A summary for logs and benchmark records.
    public var description: String {
        """
        CPU: \(cpu)
        BLAS: \(blas)
        BLAS core: \(blasCore ?? "n/a") (\(blasCoreReason))
        Lamina kernels: \(simd) (\(simdReason))
        GEMM (float32): \(gemmRule)
        3×3 stride-1 convolutions (float32): \(winograd ? "Winograd F(4×4, 3×3)" : "im2col + GEMM") (\(winogradReason))
        threads: \(threads) (\(threadsReason))
        """
    }

    /// The same facts as a flat dictionary, for benchmark records.
    public var record: [String: String] {
        ["cpu": cpu.brand.isEmpty ? cpu.vendor : cpu.brand, "cpu_family": "\(cpu.family)", "cpu_model": "\(cpu.model)",
         "cpu_flags": cpu.vectorFlags.joined(separator: " "), "blas": blas, "blas_core": blasCore ?? "n/a",
         "blas_core_at_load": blasCoreAtLoad ?? "n/a", "blas_core_reason": blasCoreReason,
         "simd": simd, "threads": "\(threads)", "threads_reason": threadsReason, "gemm": gemm, "gemm_rule": gemmRule,
         "winograd": winograd ? "on" : "off", "winograd_reason": winogradReason]
    }
}

/// The choice of OpenBLAS's kernel set: a pure function of the CPU's features, the core the
/// library reports, what the library carries and the environment, so it is tested with tables
/// on any machine; and the one-time switch that applies it.
public enum BLASCoreChoice: Equatable, Sendable {
    /// Keep OpenBLAS's own kernel choice, for `reason`.
    case keep(reason: String)
    /// Ask OpenBLAS for `core`'s kernels, for `reason`.
    case switchTo(core: String, reason: String)

    /// OpenBLAS x86-64 kernel sets by the widest instructions their SGEMM uses.
    static let coreLevels: [String: Int] = {
        var levels: [String: Int] = [:]
        for c in ["Katmai", "Coppermine", "Northwood", "Banias", "Athlon", "Prescott", "Core2", "Penryn", "Dunnington",
                  "Nehalem", "Atom", "Nano", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat"] { levels[c.lowercased()] = 0 }
        for c in ["Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"] { levels[c.lowercased()] = 1 }
        for c in ["Haswell", "Zen"] { levels[c.lowercased()] = 2 }
        levels["skylakex"] = 3
        levels["cooperlake"] = 3
        levels["sapphirerapids"] = 3
        return levels
    }()

    /// The best kernel set for a CPU among those the library carries, widest first; each needs
    /// every listed feature (the features already include the OS's register-state support).
    static let candidates: [(core: String, needs: Set<String>, vendor: String?)] = [
        ("Cooperlake", ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512_bf16", "fma"], nil),
        ("SkylakeX", ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "fma"], nil),
        ("Zen", ["avx2", "fma"], "AuthenticAMD"),
        ("Haswell", ["avx2", "fma"], nil),
        ("Sandybridge", ["avx"], nil),
    ]

    /// - Parameters:
    ///   - cpu: the CPU's features.
    ///   - reportedCore: `openblas_get_corename()`, nil when the BLAS is not OpenBLAS.
    ///   - config: `openblas_get_config()` (says whether the library is DYNAMIC_ARCH).
    ///   - hasCore: whether the library carries a core's kernel table.
    ///   - environment: the process environment.
    public static func decide(cpu: CPUFeatures, reportedCore: String?, config: String?,
                              hasCore: (String) -> Bool, environment: [String: String]) -> BLASCoreChoice {
        guard let reported = reportedCore, let config else { return .keep(reason: "the BLAS is not OpenBLAS") }
        if let forced = environment["OPENBLAS_CORETYPE"], !forced.isEmpty {
            return .keep(reason: "OPENBLAS_CORETYPE=\(forced) set by the user")
        }
        if let mode = environment["LAMINA_BLAS_CORE"], mode == "keep" {
            return .keep(reason: "LAMINA_BLAS_CORE=keep")
        }
        guard config.contains("DYNAMIC_ARCH") else {
            return .keep(reason: "OpenBLAS built for one target (no DYNAMIC_ARCH): nothing to switch")
        }
        guard let level = coreLevels[reported.lowercased()] else {
            return .keep(reason: "\(reported) is a kernel set Lamina does not rank; the library's choice stands")
        }
        guard let best = candidates.first(where: { c in
            c.needs.isSubset(of: cpu.flags) && (c.vendor == nil || c.vendor == cpu.vendor) && hasCore(c.core)
        }) else {
            return .keep(reason: "chosen by OpenBLAS; no wider kernel set fits this CPU")
        }
        let bestLevel = coreLevels[best.core.lowercased()]!
        if level >= bestLevel {
            return .keep(reason: "chosen by OpenBLAS; already the widest kernels this CPU runs")
        }
        return .switchTo(core: best.core, reason: "OpenBLAS chose \(reported), narrower kernels than this CPU (family \(cpu.family), model \(cpu.model)) runs; "
                         + "switched to \(best.core), whose kernels need \(best.needs.sorted().joined(separator: ", ")), all present")
    }

    /// The decision for this process, made and applied once (before any BLAS call).
    static let initial: (coreAtLoad: String?, reason: String) = applyBest()

    /// Decides from the library's current core and switches if needed; returns the core before
    /// and the reason. Must not run while another thread is inside a BLAS call.
    static func applyBest() -> (coreAtLoad: String?, reason: String) {
        let before = lamina_openblas_corename().map { String(cString: $0) }
        let choice = decide(cpu: .host, reportedCore: before, config: lamina_openblas_config().map { String(cString: $0) },
                            hasCore: { lamina_openblas_has_kernel_table($0) != 0 },
                            environment: ProcessInfo.processInfo.environment)
        switch choice {
        case .keep(let reason):
            return (before, reason)
        case .switchTo(let core, let reason):
            let status = lamina_openblas_reinit(core)
            if status == 0 { return (before, reason) }
            let now = lamina_openblas_corename().map { String(cString: $0) } ?? "?"
            return (before, "tried to switch from \(before ?? "?") to \(core), the library reports \(now)")
        }
    }

    /// Test-only: restarts OpenBLAS with `core` (as if loaded with OPENBLAS_CORETYPE=core), then
    /// runs Lamina's check again; returns the reason it gives. The caller must make sure no
    /// other thread uses BLAS meanwhile (the tests run it in a helper process).
    /// `between` runs while the forced core is in place (the helper times a GEMM there).
    public static func _restartForTesting(from core: String, between: () -> Void = {}) -> (forced: String?, reason: String) {
        _ = lamina_openblas_reinit(core)
        let forced = lamina_openblas_corename().map { String(cString: $0) }
        between()
        return (forced, applyBest().reason)
    }
}
