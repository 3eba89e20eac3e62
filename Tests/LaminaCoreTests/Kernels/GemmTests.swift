import CLaminaKernels
import Foundation
import Testing
@testable import LaminaCore

/// Lamina's own float32 GEMM (gemm_impl.h) on every SIMD level this CPU runs, against a scalar
/// float64 reference: ragged shapes below and beyond the block sizes (MR, NR, KC = 384, 512
/// from 256 rows on; NC = 512 at AVX-512, 2048 from 256 rows on, 1024 at AVX2 and below), all four transpose combinations, leading dimensions wider than the rows,
/// alpha/beta (beta = 0 never reads C, so NaN garbage there must not leak), 1 and 2 threads,
/// and op(B) packed once then used by one-thread products (`sgemm_pack_b` / `sgemm_packed`, the
/// recurrences' path).
/// Each element must be within 2·k·ε·|α|·Σ|a||b| + 2ε·|β·c| of the reference (the rounding
/// bound of a k-term float32 dot product, doubled), and C outside the m×n block untouched.
@Suite struct GemmTests {
    static let maxLevel = Int(lamina_simd_max_level())

    /// (m, n, k): single elements, ragged tiles, few rows (the in-place B path and the
    /// k-interleaved accumulators), narrow C, k split in several KC blocks, n in several NC
    /// blocks, and primes beyond every block size; n ≤ 256 (AVX2) or n ≤ 64 (AVX-512) reads A's
    /// rows in place (not packed); 256 rows or more take the longer k and n blocks (in place and
    /// packed A).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (7, 13, 5), (33, 65, 17), (1, 40, 9), (2, 48, 31), (3, 17, 64), (12, 32, 384),
        (13, 33, 385), (5, 600, 397), (40, 16, 1000), (131, 521, 389), (29, 37, 773),
        (9, 1100, 20), (260, 40, 1000), (263, 264, 800), (257, 2100, 30),
    ]

    @Test func portableMatchesReference() throws { try check(level: Int(LAMINA_SIMD_PORTABLE)) }

    @Test(.enabled(if: maxLevel >= Int(LAMINA_SIMD_AVX2), "skipped: this CPU (or OS) lacks AVX2 + FMA"))
    func avx2MatchesReference() throws { try check(level: Int(LAMINA_SIMD_AVX2)) }

    @Test(.enabled(if: maxLevel >= Int(LAMINA_SIMD_AVX512), "skipped: this CPU (or OS) lacks AVX-512 F/BW/DQ/VL"))
    func avx512MatchesReference() throws { try check(level: Int(LAMINA_SIMD_AVX512)) }

    @Test func levelAboveTheCPUThrows() {
        guard Self.maxLevel < Int(LAMINA_SIMD_LEVELS) - 1 else {
            #expect(throws: UnsupportedSIMDLevel.self) { try gemm(level: Int(LAMINA_SIMD_LEVELS), m: 1, n: 1, k: 1) }
            return
        }
        #expect(throws: UnsupportedSIMDLevel.self) { try gemm(level: Self.maxLevel + 1, m: 1, n: 1, k: 1) }
    }

    /// A 1×1×1 product through the level's table (for the refusal test).
    func gemm(level: Int, m: Int, n: Int, k: Int) throws {
        var a: [Float] = [1], b: [Float] = [2], c: [Float] = [0]
        try Kernels.ownSgemm(level: level, transA: false, transB: false, m: m, n: n, k: k, &a, lda: 1, &b, ldb: 1, &c, ldc: 1)
    }

    /// The products of Lamina's own public path (`Kernels.sgemm`, whichever engine `auto` picks)
    /// agree with the reference too, on a shape each rule branch takes.
    @Test func publicPathMatchesReference() {
        for (m, n, k) in [(1, 128, 70), (64, 256, 100), (128, 10, 30)] {
            let (a, b) = operands(m: m, n: n, k: k)
            let (ref, mag) = reference(a, b, m: m, n: n, k: k)
            var c = [Float](repeating: .nan, count: m * n)
            let af = a.map { Float($0) }, bf = b.map { Float($0) }
            Kernels.sgemm(transA: false, transB: false, m: m, n: n, k: k, af, lda: k, bf, ldb: n, &c, ldc: n)
            for i in 0..<(m * n) {
                #expect(abs(Double(c[i]) - ref[i]) <= 2 * Double(k) * Double(Float.ulpOfOne) * mag[i] + 1e-30,
                        "\(m)×\(n)×\(k) element \(i): \(c[i]) vs \(ref[i])")
            }
        }
    }

    /// The `auto` rule, as measured (GemmChoice.ownRuns's comment and the committed table).
    @Test func autoRule() {
        let avx512 = Int(LAMINA_SIMD_AVX512), avx2 = Int(LAMINA_SIMD_AVX2), portable = Int(LAMINA_SIMD_PORTABLE)
        let cases: [(m: Int, n: Int, k: Int, own: Int, blas: Int?, expected: Bool)] = [
            (128, 128, 784, avx512, 3, true),     // AVX-512 against Cooperlake: own
            (128, 128, 784, avx512, 2, true),     // against Haswell: own
            (1, 128, 784, avx512, 3, false),      // batch 1, same width: OpenBLAS
            (1, 128, 784, avx512, 2, true),       // batch 1, wider than Haswell: own
            (1, 128, 784, avx2, 2, true),         // batch 1, AVX2 against Haswell or Zen: own (Zen 3 table)
            (4, 128, 784, avx2, 2, true),
            (1, 10, 784, avx2, 2, false),         // ... but not a narrow C
            (128, 10, 128, avx512, 2, false),     // narrow C: OpenBLAS whatever the core
            (128, 15, 128, avx512, 0, false),
            (128, 16, 128, avx512, 0, true),      // Prescott's SSE3 kernels: own
            (512, 512, 512, portable, 3, false),  // LAMINA_SIMD=portable under Cooperlake: OpenBLAS
            (512, 512, 512, avx2, 3, false),      // own AVX2 (LAMINA_SIMD=avx2) narrower than Cooperlake
            (512, 512, 512, avx512, nil, true),   // a BLAS that does not say: taken as wide
            (2, 512, 512, avx512, nil, false),
        ]
        for c in cases {
            #expect(GemmChoice.ownRuns(m: c.m, n: c.n, k: c.k, ownLevel: c.own, blasLevel: c.blas) == c.expected, "\(c)")
        }
    }

    @Test func engineFromEnvironmentAndSetter() {
        #expect(GemmChoice.decide(environment: [:]).engine == .auto)
        #expect(GemmChoice.decide(environment: ["LAMINA_GEMM": "own"]).engine == .own)
        #expect(GemmChoice.decide(environment: ["LAMINA_GEMM": "BLAS"]).engine == .blas)
        let bad = GemmChoice.decide(environment: ["LAMINA_GEMM": "fast"])
        #expect(bad.engine == .auto && bad.reason.contains("LAMINA_GEMM=fast is not one of"))
        #expect(throws: InvalidGemmEngine.self) { try GemmChoice.set(named: "fastest") }
        #expect(ComputeBackend.current.description.contains("GEMM (float32): "))
    }

    // MARK: - the check

    func check(level: Int) throws {
        let table = lamina_kernels_for_level(Int32(level))!.pointee
        #expect(Int(table.level) == level)
        for (si, (m, n, k)) in Self.shapes.enumerated() {
            let (a, b) = operands(m: m, n: n, k: k)
            let (ref, mag) = reference(a, b, m: m, n: n, k: k)
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (-0.5, 1), (2, -0.75)] {
                    for threads in [1, 2, Self.packedB] {
                        // cycle the padding so some cases have none and some a few floats
                        let pad = (si + threads + (ta ? 1 : 0) + (tb ? 2 : 0)) % 3 * 3
                        try run(level: level, m: m, n: n, k: k, a: a, b: b, ref: ref, mag: mag, ta: ta, tb: tb,
                                alpha: alpha, beta: beta, threads: threads, pad: pad)
                    }
                }
            }
        }
    }

    /// Deterministic operands in [−1, 1] (float32-exact), op(A) m×k and op(B) k×n row-major.
    func operands(m: Int, n: Int, k: Int) -> ([Double], [Double]) {
        var state: UInt64 = UInt64(m * 1_000_003 + n * 1009 + k)
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(Int((state >> 40) % 2049) - 1024) / 1024
        }
        return ((0..<(m * k)).map { _ in next() }, (0..<(k * n)).map { _ in next() })
    }

    /// Σ a·b and Σ |a|·|b| in float64.
    func reference(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int) -> ([Double], [Double]) {
        var ref = [Double](repeating: 0, count: m * n), mag = ref
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for i in 0..<m {
                    for p in 0..<k {
                        let x = a[i * k + p], ax = abs(x)
                        for j in 0..<n {
                            ref[i * n + j] += x * b[p * n + j]
                            mag[i * n + j] += ax * abs(b[p * n + j])
                        }
                    }
                }
            }
        }
        return (ref, mag)
    }

    /// `threads` value of `run` for op(B) packed once, then `sgemm_packed` on this thread.
    static let packedB = 0

    func run(level: Int, m: Int, n: Int, k: Int, a: [Double], b: [Double], ref: [Double], mag: [Double],
             ta: Bool, tb: Bool, alpha: Float, beta: Float, threads: Int, pad: Int) throws {
        // stored A: m×k (or k×m when transposed), rows lda apart; likewise B
        let (aRows, aCols) = ta ? (k, m) : (m, k), (bRows, bCols) = tb ? (n, k) : (k, n)
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        var sa = [Float](repeating: 7, count: aRows * lda), sb = [Float](repeating: 7, count: bRows * ldb)
        for i in 0..<m { for p in 0..<k { sa[ta ? p * lda + i : i * lda + p] = Float(a[i * k + p]) } }
        for p in 0..<k { for j in 0..<n { sb[tb ? j * ldb + p : p * ldb + j] = Float(b[p * n + j]) } }
        let sentinel: Float = -12345
        var c = [Float](repeating: sentinel, count: m * ldc)
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? .nan : Float((i * 31 + j * 17) % 13) / 8 - 0.75 } }
        let c0 = c
        if threads == Self.packedB {
            let table = lamina_kernels_for_level(Int32(level))!.pointee
            var packed = [Float](repeating: .nan, count: table.sgemm_packed_b_floats(n, k))
            table.sgemm_pack_b(tb ? 1 : 0, n, k, sb, ldb, &packed)
            table.sgemm_packed(ta ? 1 : 0, m, n, k, alpha, sa, lda, packed, beta, &c, ldc)
        } else {
            try Kernels.ownSgemm(level: level, transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, sa, lda: lda, sb, ldb: ldb,
                                 beta: beta, &c, ldc: ldc, threads: threads)
        }
        let eps = Double(Float.ulpOfOne)
        var bad = 0
        for i in 0..<m {
            for j in 0..<n {
                let got = Double(c[i * ldc + j])
                let prior = beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])
                let want = Double(alpha) * ref[i * n + j] + prior
                let tol = 2 * Double(k) * eps * abs(Double(alpha)) * mag[i * n + j] + 2 * eps * abs(prior) + 1e-30
                if !(abs(got - want) <= tol) {
                    bad += 1
                    if bad <= 3 {
                        Issue.record("level \(level) \(m)×\(n)×\(k) \(ta ? "T" : "N")\(tb ? "T" : "N") α=\(alpha) β=\(beta) threads \(threads == Self.packedB ? "1, B packed" : "\(threads)") pad \(pad): C[\(i), \(j)] = \(got), want \(want) ± \(tol)")
                    }
                }
            }
            for j in n..<ldc where c[i * ldc + j] != sentinel {
                Issue.record("level \(level) \(m)×\(n)×\(k): C[\(i), \(j)] beyond n was written")
            }
        }
    }
}
