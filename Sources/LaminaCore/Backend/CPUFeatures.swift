import CLaminaKernels

/// What the processor Lamina runs on can do, read once from CPUID and XGETBV (x86-64; empty
/// elsewhere). It drives both choices of the compute backend: OpenBLAS's kernel set and the
/// SIMD level of Lamina's own kernels.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
    /// The CPUID vendor (`AuthenticAMD`, `GenuineIntel`), or the architecture elsewhere.
    public var vendor: String
    /// The marketing name (`AMD EPYC 9R14`).
    public var brand: String
    /// The CPU family number.
    public var family: Int
    /// The CPU model number.
    public var model: Int
    /// Instruction-set extensions the CPU reports *and* the OS supports (AVX state in XCR0 for
    /// the AVX families, opmask and zmm state for AVX-512), by their Linux `/proc/cpuinfo` names:
    /// "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd",
    /// "avx512_bf16", ...
    public var flags: Set<String>

    /// Features given by hand (tests, or to pretend to be another CPU).
    public init(vendor: String, brand: String = "", family: Int = 0, model: Int = 0, flags: Set<String>) {
        (self.vendor, self.brand, self.family, self.model, self.flags) = (vendor, brand, family, model, flags)
    }

    /// The CPU this process runs on.
    public static let host: CPUFeatures = {
        let f = lamina_cpu()!.pointee
        var flags = Set<String>()
        func add(_ name: String, _ on: Int32, os: Bool = true) { if on != 0 && os { flags.insert(name) } }
        let ymm = f.os_ymm != 0, zmm = f.os_zmm != 0
        add("sse3", f.sse3); add("ssse3", f.ssse3); add("sse4_1", f.sse41); add("sse4_2", f.sse42)
        add("avx", f.avx, os: ymm); add("avx2", f.avx2, os: ymm); add("fma", f.fma, os: ymm); add("f16c", f.f16c, os: ymm)
        add("avx512f", f.avx512f, os: zmm); add("avx512bw", f.avx512bw, os: zmm); add("avx512dq", f.avx512dq, os: zmm)
        add("avx512vl", f.avx512vl, os: zmm); add("avx512cd", f.avx512cd, os: zmm)
        add("avx512_bf16", f.avx512bf16, os: zmm); add("avx512_fp16", f.avx512fp16, os: zmm); add("amx", f.amx, os: zmm)
        let vendor = withUnsafeBytes(of: f.vendor) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let brand = withUnsafeBytes(of: f.brand) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        #if arch(x86_64)
        return CPUFeatures(vendor: vendor, brand: brand, family: Int(f.family), model: Int(f.model), flags: flags)
        #else
        return CPUFeatures(vendor: "", brand: "", flags: [])
        #endif
    }()

    /// The names of the vector extensions, widest last ("avx avx2 fma avx512f ...").
    public var vectorFlags: [String] {
        ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd",
         "avx512_bf16", "avx512_fp16", "amx"].filter(flags.contains)
    }

    /// Vendor, brand and the features Lamina's kernels use.
    public var description: String {
        let name = brand.isEmpty ? vendor : brand
        return "\(name.isEmpty ? "unknown CPU" : name) (family \(family), model \(model); \(vectorFlags.joined(separator: ", ")))"
    }
}
