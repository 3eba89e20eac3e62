import CLaminaKernels
import Foundation
import Testing
import LaminaTestSupport
@testable import LaminaCore

/// Every SIMD level of CLaminaKernels against plain Swift references. A level this CPU cannot
/// run is skipped with its name; the portable level runs everywhere.
@Suite struct SIMDKernelTests {
    static let maxLevel = Int(lamina_simd_max_level())

    @Test func portableMatchesReference() { check(level: Int(LAMINA_SIMD_PORTABLE)) }

    @Test(.enabled(if: maxLevel >= Int(LAMINA_SIMD_AVX2), "skipped: this CPU (or OS) lacks AVX2 + FMA"))
    func avx2MatchesReference() { check(level: Int(LAMINA_SIMD_AVX2)) }

    @Test(.enabled(if: maxLevel >= Int(LAMINA_SIMD_AVX512), "skipped: this CPU (or OS) lacks AVX-512 F/BW/DQ/VL"))
    func avx512MatchesReference() { check(level: Int(LAMINA_SIMD_AVX512)) }

    @Test func levelsAboveTheCPUAreRefused() {
        for level in 0..<Int(LAMINA_SIMD_LEVELS) {
            #expect((lamina_kernels_for_level(Int32(level)) != nil) == (level <= Self.maxLevel))
        }
        #expect(lamina_kernels_for_level(Int32(LAMINA_SIMD_LEVELS)) == nil)
    }

    func check(level: Int) {
        let table = lamina_kernels_for_level(Int32(level))!.pointee
        #expect(Int(table.level) == level)
        elementwise(table)
        columnSums(table)
        maxPool(table)
        patches(table)
        directConv(table)
        winograd(table)
        depthwise(table)
        lstm(table)
        adam(table)
    }

    // MARK: - references and checks

    /// Values in [−2, 2) from a seeded generator; lengths below are not multiples of 16 so every
    /// vector loop also runs its scalar tail.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in Float(rng.nextDouble() * 4 - 2) }
    }

    func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ what: String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, "\(what): lengths", sourceLocation: sourceLocation)
        var worst: Float = 0, at = -1
        for i in 0..<Swift.min(a.count, b.count) {
            let diff = a[i].isNaN != b[i].isNaN ? Float.infinity : (a[i].isNaN ? 0 : Swift.abs(a[i] - b[i]) / Swift.max(1, Swift.abs(b[i])))
            if diff > worst { worst = diff; at = i }
        }
        #expect(worst <= tolerance, "\(what): \(worst) at \(at): \(at >= 0 ? "\(a[at]) vs \(b[at])" : "")", sourceLocation: sourceLocation)
    }

    func elementwise(_ t: lamina_kernel_table) {
        var x = Self.values(1037, seed: 1)
        x[5] = .nan; x[1030] = .nan; x[7] = 0; x[8] = -0.0; x[9] = .infinity
        let g = Self.values(1037, seed: 2)
        var y = [Float](repeating: 9, count: x.count)
        t.relu(x, &y, x.count)
        close(y, x.map { $0 > 0 ? $0 : 0 }, tolerance: 0, "relu")
        t.relu_backward(g, x, &y, x.count)
        close(y, zip(g, x).map { $0 * ($1 > 0 ? 1 : 0) }, tolerance: 0, "relu_backward")
        t.add(x, g, &y, x.count)
        close(y, zip(x, g).map(+), tolerance: 0, "add")
        t.mul(x, g, &y, x.count)
        close(y, zip(x, g).map(*), tolerance: 0, "mul")
    }

    func columnSums(_ t: lamina_kernel_table) {
        for (rows, cols) in [(200, 37), (3, 5), (129, 1100)] {
            let x = Self.values(rows * cols, seed: 3)
            var acc = [Double](repeating: 1, count: cols)  // adds into what is there
            t.column_sums(x, rows, cols, &acc)
            var expected = [Double](repeating: 1, count: cols)
            for r in 0..<rows { for j in 0..<cols { expected[j] += Double(x[r * cols + j]) } }
            close(acc.map { Float($0) }, expected.map { Float($0) }, tolerance: 1e-5, "column_sums \(rows)x\(cols)")
        }
    }

    func maxPool(_ t: lamina_kernel_table) {
        for (c, pool, stride, padding) in [(37, 2, 2, Padding.valid), (5, 3, 2, .same), (16, 2, 1, .valid)] {
            let (n, h, w) = (2, 7, 9)
            var x = Self.values(n * h * w * c, seed: 4)
            x[11] = .nan
            for i in (3 * c)..<(4 * c) { x[i] = x[2 * c + (i - 3 * c)] }  // ties: the first maximum wins
            let g = WindowGeometry(inH: h, inW: w, kH: pool, kW: pool, strideH: stride, strideW: stride, padding: padding)
            let outCount = n * g.outH * g.outW * c
            var out = [Float](repeating: 0, count: outCount), idx = [Int32](repeating: -1, count: outCount)
            var window = g.c
            let base = 1000  // index_base: indices are offset by where the images start
            t.max_pool(x, n, c, &window, &out, &idx, base)
            var expected = [Float](repeating: 0, count: outCount), expectedIdx = [Int32](repeating: 0, count: outCount)
            for b in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW { for ch in 0..<c {
                var m = Float.nan, at = -1
                for kh in 0..<pool { for kw in 0..<pool {
                    let ih = oh * stride - g.padTop + kh, iw = ow * stride - g.padLeft + kw
                    guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                    let i = ((b * h + ih) * w + iw) * c + ch
                    if at < 0 || x[i] > m || x[i].isNaN { m = x[i]; at = i }  // the first maximum; a NaN replaces it
                } }
                let o = ((b * g.outH + oh) * g.outW + ow) * c + ch
                expected[o] = m; expectedIdx[o] = Int32(at + base)
            } } } }
            close(out, expected, tolerance: 0, "max_pool c=\(c) pool=\(pool)")
            #expect(idx == expectedIdx, "max_pool argmax c=\(c) pool=\(pool)")
            // Without argmax the maxima are the same.
            var plain = [Float](repeating: 0, count: outCount)
            t.max_pool(x, n, c, &window, &plain, nil, 0)
            close(plain, expected, tolerance: 0, "max_pool without argmax")
            // The scatter puts each gradient back at its index.
            let grad = Self.values(outCount, seed: 5)
            var dx = [Float](repeating: 0, count: x.count), ref = dx
            t.scatter_add(grad, idx, outCount, base, &dx)
            for i in 0..<outCount { ref[Int(expectedIdx[i]) - base] += grad[i] }
            close(dx, ref, tolerance: 1e-6, "scatter_add")
        }
    }

    func patches(_ t: lamina_kernel_table) {
        for (c, k, stride, padding) in [(3, 3, 1, Padding.same), (17, 2, 2, .valid), (1, 5, 2, .same)] {
            let (n, h, w) = (2, 6, 7)
            let x = Self.values(n * h * w * c, seed: 6)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            let rowLen = k * k * c, rows = n * g.outH * g.outW
            var cols = [Float](repeating: .nan, count: rows * rowLen), expected = [Float](repeating: 0, count: rows * rowLen)
            var window = g.c
            t.im2col(x, n, c, &window, &cols)
            for b in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW { for kh in 0..<k { for kw in 0..<k { for ch in 0..<c {
                let ih = oh * stride - g.padTop + kh, iw = ow * stride - g.padLeft + kw
                let r = (b * g.outH + oh) * g.outW + ow
                expected[r * rowLen + (kh * k + kw) * c + ch] = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[((b * h + ih) * w + iw) * c + ch] : 0
            } } } } } }
            close(cols, expected, tolerance: 0, "im2col c=\(c) k=\(k)")
            // col2im is the adjoint: <im2col(x), y> = <x, col2im(y)>.
            let y = Self.values(rows * rowLen, seed: 7)
            var back = [Float](repeating: 0, count: x.count)
            t.col2im(y, n, c, &window, &back)
            var lhs = 0.0, rhs = 0.0
            for i in 0..<cols.count { lhs += Double(cols[i]) * Double(y[i]) }
            for i in 0..<x.count { rhs += Double(x[i]) * Double(back[i]) }
            #expect(Swift.abs(lhs - rhs) <= 1e-4 * Swift.max(1, Swift.abs(lhs)), "col2im adjoint c=\(c) k=\(k): \(lhs) vs \(rhs)")
        }
    }

    func directConv(_ t: lamina_kernel_table) {
        // Widths and filter counts reach the 6-pixel blocks (and the last one overlapping the one before),
        // the one-pixel edges and the filter tails; tap counts (8, 9, 12, 27, 32) one block of the
        // filter gradient or several (at most 12 taps each at AVX-512, 6 below).
        for (c, f, k, stride, padding, relu) in [(1, 32, 3, 1, Padding.valid, true), (3, 37, 3, 2, .same, false), (2, 5, 2, 1, .same, true),
                                                 (3, 37, 3, 1, .valid, false), (1, 50, 3, 1, .same, true), (2, 33, 2, 2, .valid, false),
                                                 (3, 20, 2, 1, .same, false), (2, 17, 4, 1, .valid, true)] {
            let (n, h, w) = (3, 8, 13)
            let x = Self.values(n * h * w * c, seed: 8), kernel = Self.values(k * k * c * f, seed: 9), bias = Self.values(f, seed: 10)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            let reference = Reference.conv2d(Tensor(shape: [n, h, w, c], scalars: x), Tensor(shape: [k, k, c, f], scalars: kernel),
                                             stride: (stride, stride), outH: g.outH, outW: g.outW, padTop: g.padTop, padLeft: g.padLeft)
                .scalarsAsDouble()
            let pixels = n * g.outH * g.outW
            let expected = (0..<(pixels * f)).map { i -> Float in
                let v = Float(reference[i]) + bias[i % f]
                return relu ? Swift.max(v, 0) : v
            }
            var out = [Float](repeating: .nan, count: pixels * f)
            var window = g.c
            t.conv_direct(x, n, c, &window, kernel, f, bias, relu ? 1 : 0, &out)
            close(out, expected, tolerance: 1e-5, "conv_direct c=\(c) f=\(f)")
            // dW = Σ patch · dOut, against im2col-style sums in double.
            let dOut = Self.values(pixels * f, seed: 11)
            var dw = [Float](repeating: 0, count: k * k * c * f)
            t.conv_direct_dw(x, n, c, &window, dOut, f, &dw)
            var expectedDW = [Double](repeating: 0, count: dw.count)
            for b in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW { for kh in 0..<k { for kw in 0..<k {
                let ih = oh * stride - g.padTop + kh, iw = ow * stride - g.padLeft + kw
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let p = (b * g.outH + oh) * g.outW + ow
                for ch in 0..<c { for o in 0..<f {
                    expectedDW[((kh * k + kw) * c + ch) * f + o] += Double(x[((b * h + ih) * w + iw) * c + ch]) * Double(dOut[p * f + o])
                } }
            } } } } }
            close(dw, expectedDW.map { Float($0) }, tolerance: 1e-5, "conv_direct_dw c=\(c) f=\(f)")
        }
    }

    /// Winograd F(4×4, 3×3) against the float64 convolution: channel and filter counts off the
    /// vector width (the transforms' partial vectors, the products' ragged panels), outputs that
    /// are not whole 4×4 tiles, zero padding on every side, several images, more channels than
    /// one k block of the GEMM (384). Its rounding is that of its transforms (which scale by up to
    /// 8): 0.7e-6 to 2.4e-6 of the largest output on these shapes at every level (Lavin's points
    /// gave 2.2e-6 to 7.0e-6), where the direct sum is within about 1e-7; the bound is 5e-6.
    func winograd(_ t: lamina_kernel_table) {
        for (c, f, h, w, padding) in [(16, 16, 6, 6, Padding.valid), (19, 21, 9, 14, .same), (37, 40, 13, 13, .valid),
                                      (32, 64, 11, 7, .same), (400, 17, 5, 6, .same)] {
            let n = 3
            let x = Self.values(n * h * w * c, seed: 12), kernel = Self.values(9 * c * f, seed: 13)
            let g = WindowGeometry(inH: h, inW: w, kH: 3, kW: 3, strideH: 1, strideW: 1, padding: padding)
            let reference = Reference.conv2d(Tensor(shape: [n, h, w, c], scalars: x), Tensor(shape: [3, 3, c, f], scalars: kernel),
                                             stride: (1, 1), outH: g.outH, outW: g.outW, padTop: g.padTop, padLeft: g.padLeft)
                .scalarsAsDouble()
            var packed = [Float](repeating: .nan, count: t.winograd_kernel_floats(c, f) + 16)
            var work = [Float](repeating: .nan, count: 36 * c * f)
            var window = g.c
            var scratch = [Float](repeating: .nan, count: t.winograd_scratch_floats(n, c, f, &window))
            var out = [Float](repeating: .nan, count: n * g.outH * g.outW * f)
            packed.withUnsafeMutableBufferPointer { p in
                // winograd_pack_kernel writes 64-byte aligned panels, as the library allocates them
                let skip = (64 - Int(bitPattern: p.baseAddress!) % 64) % 64 / 4
                t.winograd_pack_kernel(kernel, c, f, &work, p.baseAddress! + skip)
                t.winograd_conv(x, n, c, &window, p.baseAddress! + skip, f, &scratch, &out)
            }
            let largest = reference.map { Swift.abs($0) }.max()!
            let worst = zip(out, reference).map { Swift.abs(Double($0) - $1) }.max()! / largest
            #expect(worst <= 5e-6, "winograd c=\(c) f=\(f) \(h)×\(w) \(padding): error \(worst) of the largest output")
        }
    }

    /// The depthwise kernels (forward, input and kernel gradients) against the float64 Swift loops.
    func depthwise(_ t: lamina_kernel_table) {
        // Channel counts reach whole vectors and tails; multipliers 1 and 2; strides, dilation, same padding.
        for (c, m, k, stride, dilation, padding) in [(19, 1, 3, 1, 1, Padding.same), (37, 1, 3, 2, 1, .valid), (5, 2, 2, 1, 2, .same),
                                                     (16, 1, 5, 2, 2, .same), (3, 3, 3, 1, 1, .valid)] {
            let (n, h, w) = (2, 9, 8)
            let x = Self.values(n * h * w * c, seed: 12), kernel = Self.values(k * k * c * m, seed: 13), bias = Self.values(c * m, seed: 14)
            let window = WindowGeometry(inH: h, inW: w, kH: (k - 1) * dilation + 1, kW: (k - 1) * dilation + 1,
                                        strideH: stride, strideW: stride, padding: padding)
            let d = DepthwiseGeometry(window: window, kH: k, kW: k, dilationH: dilation, dilationW: dilation, channels: c, multiplier: m)
            let (x64, w64) = (Tensor(shape: [n, h, w, c], scalars: x.map(Double.init)), Tensor(shape: [k, k, c, m], scalars: kernel.map(Double.init)))
            let expected = Kernels.depthwiseConv(Double.self, x64, w64, bias: Tensor(shape: [c * m], scalars: bias.map(Double.init)), d)
            var out = [Float](repeating: .nan, count: expected.count), g = window.c
            t.depthwise(x, n, c, &g, k, k, dilation, dilation, kernel, m, bias, &out)
            close(out, expected.asArray(Double.self).map { Float($0) }, tolerance: 1e-5, "depthwise c=\(c) m=\(m)")
            let dOut = Self.values(expected.count, seed: 15)
            let dOut64 = Tensor(shape: expected.shape, scalars: dOut.map(Double.init))
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: kernel.count)
            t.depthwise_dx(dOut, n, c, &g, k, k, dilation, dilation, kernel, m, &dx)
            t.depthwise_dw(x, n, c, &g, k, k, dilation, dilation, dOut, m, &dw)
            let expectedDX = Kernels.depthwiseConvInputGradient(Double.self, dOut64, w64, inputShape: x64.shape, d)
            let expectedDW = Kernels.depthwiseConvKernelGradient(Double.self, x64, dOut64, kernelShape: w64.shape, d)
            close(dx, expectedDX.asArray(Double.self).map { Float($0) }, tolerance: 1e-5, "depthwise_dx c=\(c) m=\(m)")
            close(dw, expectedDW.asArray(Double.self).map { Float($0) }, tolerance: 1e-5, "depthwise_dw c=\(c) m=\(m)")
        }
    }

    func lstm(_ t: lamina_kernel_table) {
        let (rows, n) = (3, 21)
        let z0 = Self.values(rows * 4 * n, seed: 12).map { $0 * 3 }, cPrev = Self.values(rows * n, seed: 13)
        var z = z0, c = [Float](repeating: 0, count: rows * n), tc = c, h = c
        t.lstm_forward(&z, rows, n, cPrev, &c, &tc, &h)
        func floats(_ v: [Double]) -> [Float] { v.map { Float($0) } }
        func doubles(_ v: [Float]) -> [Double] { v.map { Double($0) } }
        let e = Reference.lstmStep(z: doubles(z0), cPrev: doubles(cPrev), rows: rows, n: n)
        // The gates use the float32 rational tanh (within 3.2e-7 of the true value).
        close(z, floats(e.gates), tolerance: 2e-6, "lstm_forward gates")
        close(c, floats(e.c), tolerance: 2e-6, "lstm_forward c")
        close(tc, floats(e.tc), tolerance: 2e-6, "lstm_forward tanh(c)")
        close(h, floats(e.h), tolerance: 2e-6, "lstm_forward h")
        let dh = Self.values(rows * n, seed: 14), dc0 = Self.values(rows * n, seed: 15)
        var dc = dc0, dz = [Float](repeating: 0, count: rows * 4 * n)
        // The backward from the kernel's own gates, so the check covers the backward alone.
        t.lstm_backward(z, tc, cPrev, dh, &dc, &dz, rows, n)
        let eb = Reference.lstmStepBackward(gates: doubles(z), tc: doubles(tc), cPrev: doubles(cPrev), dh: doubles(dh),
                                            dc: doubles(dc0), rows: rows, n: n)
        close(dz, floats(eb.dz), tolerance: 1e-5, "lstm_backward dz")
        close(dc, floats(eb.dcPrev), tolerance: 1e-5, "lstm_backward dc")
    }

    func adam(_ t: lamina_kernel_table) {
        let count = 1003
        let g = Self.values(count, seed: 16)
        var w = Self.values(count, seed: 17), m = Self.values(count, seed: 18).map { $0 * 0.1 }, v = Self.values(count, seed: 19).map { $0 * $0 }
        var (ew, em, ev) = (w, m, v)
        let (alpha, b1, b2, eps): (Float, Float, Float, Float) = (1e-3, 0.1, 0.001, 1e-7)
        t.adam(&w, g, &m, &v, count, alpha, b1, b2, eps)
        for i in 0..<count {
            em[i] += (g[i] - em[i]) * b1
            ev[i] += (g[i] * g[i] - ev[i]) * b2
            ew[i] -= alpha * em[i] / (ev[i].squareRoot() + eps)
        }
        close(m, em, tolerance: 1e-6, "adam m")
        close(v, ev, tolerance: 1e-6, "adam v")
        close(w, ew, tolerance: 1e-6, "adam w")
    }
}

/// A small seeded generator for test data (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
