import CLaminaKernels
import Foundation
import Testing
import LaminaTestSupport
@testable import LaminaCore

/// The float64 tables of CLaminaKernels, which float64 tensors run, at every SIMD level this CPU
/// runs against plain float64 references written here (lengths not multiples of 8, so every
/// loop also runs its tail); and the float64 ops' path through the table of the level in use.
@Suite struct SIMDKernelF64Tests {
    static let maxLevel = Int(lamina_simd_max_level())

    @Test(arguments: 0..<Int(LAMINA_SIMD_LEVELS)) func levelMatchesReference(level: Int) {
        guard let table = lamina_kernels_f64_for_level(Int32(level)) else {
            #expect(level > Self.maxLevel, "level \(level) is missing below this CPU's maximum")
            return
        }
        let t = table.pointee
        #expect(Int(t.level) == level)
        #expect(String(cString: t.name) == String(cString: lamina_kernels_for_level(Int32(level))!.pointee.name))
        elementwise(t)
        reductions(t)
        windows(t)
        lstm(t)
        adam(t)
    }

    @Test func followsTheFloatTable() {
        #expect(lamina_kernels_f64()!.pointee.level == lamina_kernels()!.pointee.level)
    }

    /// float64 ops give exactly what the double table of the level in use gives.
    @Test func float64OpsRunTheDoubleTable() {
        let t = lamina_kernels_f64()!.pointee
        let (rows, n) = (5, 37)
        let x = Self.values(rows * n, seed: 31), gamma = Self.values(n, seed: 32), beta = Self.values(n, seed: 33)
        let y = Tensor.layerNormalization(Tensor(shape: [rows, n], scalars: x), gamma: Tensor(shape: [n], scalars: gamma),
                                          beta: Tensor(shape: [n], scalars: beta), epsilon: 1e-3)
        var expected = [Double](repeating: 0, count: rows * n), stats = [Double](repeating: 0, count: 2 * rows)
        t.layer_norm_rows(x, rows, n, gamma, beta, 1e-3, &expected, &stats)
        #expect(y.asArray(Double.self) == expected, "layerNormalization")
        let relu = Tensor(shape: [rows * n], scalars: x).relu()
        var expectedRelu = [Double](repeating: 0, count: rows * n)
        t.relu(x, &expectedRelu, rows * n)
        #expect(relu.asArray(Double.self) == expectedRelu, "relu")
    }

    // MARK: - references and checks

    static func values(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in rng.nextDouble() * 4 - 2 }
    }

    func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-13, _ what: String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, "\(what): lengths", sourceLocation: sourceLocation)
        var worst = 0.0, at = -1
        for i in 0..<Swift.min(a.count, b.count) {
            let diff = a[i].isNaN != b[i].isNaN ? Double.infinity : (a[i].isNaN ? 0 : Swift.abs(a[i] - b[i]) / Swift.max(1, Swift.abs(b[i])))
            if diff > worst { worst = diff; at = i }
        }
        #expect(worst <= tolerance, "\(what): \(worst) at \(at): \(at >= 0 ? "\(a[at]) vs \(b[at])" : "")", sourceLocation: sourceLocation)
    }

    func elementwise(_ t: lamina_kernel_table_f64) {
        var x = Self.values(1037, seed: 1)
        x[5] = .nan; x[7] = 0; x[8] = -0.0; x[1036] = -.infinity
        let g = Self.values(1037, seed: 2)
        var y = [Double](repeating: 9, count: x.count)
        t.relu(x, &y, x.count)
        close(y, x.map { $0 > 0 ? $0 : 0 }, tolerance: 0, "relu")
        t.relu_backward(g, x, &y, x.count)
        close(y, zip(g, x).map { $0 * ($1 > 0 ? 1 : 0) }, tolerance: 0, "relu_backward")
        t.add(x, g, &y, x.count)
        close(y, zip(x, g).map(+), tolerance: 0, "add")
        t.mul(x, g, &y, x.count)
        close(y, zip(x, g).map(*), tolerance: 0, "mul")
        let ops: [(Double, Double) -> Double] = [{ $0 + $1 }, { $0 - $1 }, { $1 - $0 }, { $0 * $1 }, { $0 / $1 }, { $1 / $0 }]
        for (op, f) in ops.enumerated() {
            t.binary_scalar(g, 1.3, &y, g.count, Int32(op))
            close(y, g.map { f($0, 1.3) }, tolerance: 0, "binary_scalar \(op)")
        }
    }

    func reductions(_ t: lamina_kernel_table_f64) {
        for (rows, cols) in [(200, 37), (3, 5), (129, 1100)] {
            let x = Self.values(rows * cols, seed: 3)
            var acc = [Double](repeating: 1, count: cols), expected = acc
            t.column_sums(x, rows, cols, &acc)
            for r in 0..<rows { for j in 0..<cols { expected[j] += x[r * cols + j] } }
            close(acc, expected, tolerance: 1e-13, "column_sums \(rows)x\(cols)")
        }
        for (rows, n) in [(3, 37), (2, 3), (1, 64)] {
            let x = Self.values(rows * n, seed: 4).map { $0 * 20 }, dp = Self.values(rows * n, seed: 5)
            var p = x
            t.softmax_rows(&p, rows, n)
            var ep = x, eds = x
            for r in 0..<rows {
                let row = Array(x[(r * n)..<((r + 1) * n)]), m = row.max()!
                let e = row.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                for j in 0..<n { ep[r * n + j] = e[j] / s }
                var dot = 0.0
                for j in 0..<n { dot += dp[r * n + j] * ep[r * n + j] }
                for j in 0..<n { eds[r * n + j] = ep[r * n + j] * (dp[r * n + j] - dot) }
            }
            close(p, ep, "softmax_rows \(rows)x\(n)")
            var ds = [Double](repeating: 0, count: rows * n)
            t.softmax_backward_rows(dp, ep, &ds, rows, n)
            close(ds, eds, "softmax_backward_rows \(rows)x\(n)")
            // Layer normalization and its gradients.
            let gamma = Self.values(n, seed: 6), beta = Self.values(n, seed: 7), eps = 1e-3
            var y = [Double](repeating: 0, count: rows * n), stats = [Double](repeating: 0, count: 2 * rows)
            t.layer_norm_rows(x, rows, n, gamma, beta, eps, &y, &stats)
            var ey = y, estats = stats, edx = y, edg = [Double](repeating: 0, count: n), edb = edg
            for r in 0..<rows {
                let row = Array(x[(r * n)..<((r + 1) * n)])
                let mean = row.reduce(0, +) / Double(n)
                let inv = 1 / (row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n) + eps).squareRoot()
                (estats[2 * r], estats[2 * r + 1]) = (mean, inv)
                var a = 0.0, b = 0.0
                for j in 0..<n {
                    let xh = (row[j] - mean) * inv, gh = dp[r * n + j] * gamma[j]
                    ey[r * n + j] = xh * gamma[j] + beta[j]
                    a += gh; b += gh * xh
                    edg[j] += dp[r * n + j] * xh; edb[j] += dp[r * n + j]
                }
                for j in 0..<n {
                    let xh = (row[j] - mean) * inv, gh = dp[r * n + j] * gamma[j]
                    edx[r * n + j] = inv * (gh - a / Double(n) - xh * b / Double(n))
                }
            }
            close(y, ey, tolerance: 1e-12, "layer_norm_rows \(rows)x\(n)")
            close(stats, estats, tolerance: 1e-12, "layer_norm_rows stats")
            var dx = y
            t.layer_norm_backward_rows(dp, x, rows, n, gamma, stats, &dx)
            close(dx, edx, tolerance: 1e-12, "layer_norm_backward_rows \(rows)x\(n)")
            var dg = [Double](repeating: 0, count: n), db = dg
            t.layer_norm_param_grads(dp, x, rows, n, stats, &dg, &db)
            close(dg, edg, tolerance: 1e-12, "layer_norm_param_grads dgamma")
            close(db, edb, tolerance: 1e-12, "layer_norm_param_grads dbeta")
        }
    }

    func windows(_ t: lamina_kernel_table_f64) {
        for (c, k, stride, padding) in [(3, 3, 1, Padding.same), (17, 2, 2, .valid), (5, 3, 2, .same)] {
            let (n, h, w) = (2, 6, 7)
            let x = Self.values(n * h * w * c, seed: 8)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            var window = g.c
            func input(_ b: Int, _ oh: Int, _ ow: Int, _ kh: Int, _ kw: Int, _ ch: Int) -> Int? {
                let ih = oh * stride - g.padTop + kh, iw = ow * stride - g.padLeft + kw
                return ih >= 0 && ih < h && iw >= 0 && iw < w ? ((b * h + ih) * w + iw) * c + ch : nil
            }
            // Max pooling with its argmax.
            let outCount = n * g.outH * g.outW * c
            var out = [Double](repeating: 0, count: outCount), idx = [Int32](repeating: -1, count: outCount)
            t.max_pool(x, n, c, &window, &out, &idx, 0)
            var eout = out, eidx = idx
            // im2col rows and the direct convolution with bias and ReLU.
            let rowLen = k * k * c, f = 11
            let kernel = Self.values(rowLen * f, seed: 9), bias = Self.values(f, seed: 10)
            var cols = [Double](repeating: .nan, count: n * g.outH * g.outW * rowLen), ecols = cols
            t.im2col(x, n, c, &window, &cols)
            var conv = [Double](repeating: .nan, count: n * g.outH * g.outW * f), econv = conv
            t.conv_direct(x, n, c, &window, kernel, f, bias, 1, &conv)
            for b in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW {
                let p = (b * g.outH + oh) * g.outW + ow
                for ch in 0..<c {
                    var m = -Double.infinity, at = -1
                    for kh in 0..<k { for kw in 0..<k { if let i = input(b, oh, ow, kh, kw, ch), at < 0 || x[i] > m { m = x[i]; at = i } } }
                    (eout[p * c + ch], eidx[p * c + ch]) = (m, Int32(at))
                }
                for kh in 0..<k { for kw in 0..<k { for ch in 0..<c {
                    ecols[p * rowLen + (kh * k + kw) * c + ch] = input(b, oh, ow, kh, kw, ch).map { x[$0] } ?? 0
                } } }
                for o in 0..<f {
                    var s = bias[o]
                    for j in 0..<rowLen { s += ecols[p * rowLen + j] * kernel[j * f + o] }
                    econv[p * f + o] = Swift.max(s, 0)
                }
            } } }
            close(out, eout, tolerance: 0, "max_pool c=\(c) k=\(k)")
            #expect(idx == eidx, "max_pool argmax c=\(c) k=\(k)")
            close(cols, ecols, tolerance: 0, "im2col c=\(c) k=\(k)")
            close(conv, econv, tolerance: 1e-13, "conv_direct c=\(c) k=\(k)")
            // The depthwise convolution (multiplier 1) against the patch rows.
            let dk = Self.values(k * k * c, seed: 11)
            var dwOut = [Double](repeating: .nan, count: outCount), edw = dwOut
            t.depthwise(x, n, c, &window, k, k, 1, 1, dk, 1, nil, &dwOut)
            for p in 0..<(n * g.outH * g.outW) { for ch in 0..<c {
                var s = 0.0
                for tap in 0..<(k * k) { s += ecols[p * rowLen + tap * c + ch] * dk[tap * c + ch] }
                edw[p * c + ch] = s
            } }
            close(dwOut, edw, tolerance: 1e-13, "depthwise c=\(c) k=\(k)")
        }
    }

    func lstm(_ t: lamina_kernel_table_f64) {
        let (rows, n) = (3, 21)
        let z0 = Self.values(rows * 4 * n, seed: 12).map { $0 * 3 }, cPrev = Self.values(rows * n, seed: 13)
        var z = z0, c = [Double](repeating: 0, count: rows * n), tc = c, h = c
        t.lstm_forward(&z, rows, n, cPrev, &c, &tc, &h)
        let e = Reference.lstmStep(z: z0, cPrev: cPrev, rows: rows, n: n)
        // float64 gates are libm's tanh and exp, not the float32 rational tanh.
        close(z, e.gates, tolerance: 1e-15, "lstm_forward gates")
        close(c, e.c, tolerance: 1e-15, "lstm_forward c")
        close(tc, e.tc, tolerance: 1e-15, "lstm_forward tanh(c)")
        close(h, e.h, tolerance: 1e-15, "lstm_forward h")
        let dh = Self.values(rows * n, seed: 14), dc0 = Self.values(rows * n, seed: 15)
        var dc = dc0, dz = [Double](repeating: 0, count: rows * 4 * n)
        t.lstm_backward(e.gates, e.tc, cPrev, dh, &dc, &dz, rows, n)
        let eb = Reference.lstmStepBackward(gates: e.gates, tc: e.tc, cPrev: cPrev, dh: dh, dc: dc0, rows: rows, n: n)
        close(dz, eb.dz, "lstm_backward dz")
        close(dc, eb.dcPrev, "lstm_backward dc")
    }

    func adam(_ t: lamina_kernel_table_f64) {
        let count = 1003
        let g = Self.values(count, seed: 16)
        var w = Self.values(count, seed: 17), m = Self.values(count, seed: 18).map { $0 * 0.1 }, v = Self.values(count, seed: 19).map { $0 * $0 }
        var (ew, em, ev) = (w, m, v)
        let (alpha, b1, b2, eps) = (1e-3, 0.1, 0.001, 1e-7)
        t.adam(&w, g, &m, &v, count, alpha, b1, b2, eps)
        for i in 0..<count {
            em[i] += (g[i] - em[i]) * b1
            ev[i] += (g[i] * g[i] - ev[i]) * b2
            ew[i] -= alpha * em[i] / (ev[i].squareRoot() + eps)
        }
        close(m, em, "adam m")
        close(v, ev, "adam v")
        close(w, ew, "adam w")
    }
}
