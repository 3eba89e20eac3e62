import Foundation
import LaminaCore

/// Naive references, independent of the kernels under test.
package enum Reference {
    /// One LSTM step of `rows` rows of n units in float64, from the pre-activations z
    /// `[rows, 4n]` (Keras's gate order i, f, c, o) and c_prev: the gates (σ, σ, tanh, σ), c,
    /// tanh(c) and h = o·tanh(c).
    package static func lstmStep(z: [Double], cPrev: [Double], rows: Int, n: Int)
        -> (gates: [Double], c: [Double], tc: [Double], h: [Double]) {
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        var gates = z, c = cPrev, tc = cPrev, h = cPrev
        for b in 0..<rows {
            for j in 0..<n {
                let base = b * 4 * n, s = b * n + j
                let i = sigmoid(z[base + j]), f = sigmoid(z[base + n + j])
                let g = Foundation.tanh(z[base + 2 * n + j]), o = sigmoid(z[base + 3 * n + j])
                (gates[base + j], gates[base + n + j], gates[base + 2 * n + j], gates[base + 3 * n + j]) = (i, f, g, o)
                c[s] = f * cPrev[s] + i * g
                tc[s] = Foundation.tanh(c[s])
                h[s] = o * tc[s]
            }
        }
        return (gates, c, tc, h)
    }

    /// The backward of `lstmStep` from its gates and tanh(c): dz `[rows, 4n]` and dc_prev, given
    /// dh and the cell gradient dc arriving from the next step.
    package static func lstmStepBackward(gates: [Double], tc: [Double], cPrev: [Double], dh: [Double], dc: [Double],
                                         rows: Int, n: Int) -> (dz: [Double], dcPrev: [Double]) {
        var dz = gates, dcPrev = dc
        for b in 0..<rows {
            for j in 0..<n {
                let base = b * 4 * n, s = b * n + j
                let (i, f, g, o) = (gates[base + j], gates[base + n + j], gates[base + 2 * n + j], gates[base + 3 * n + j])
                let dcv = dc[s] + dh[s] * o * (1 - tc[s] * tc[s])
                dz[base + 3 * n + j] = dh[s] * tc[s] * o * (1 - o)
                dz[base + j] = dcv * g * i * (1 - i)
                dz[base + n + j] = dcv * cPrev[s] * f * (1 - f)
                dz[base + 2 * n + j] = dcv * i * (1 - g * g)
                dcPrev[s] = dcv * f
            }
        }
        return (dz, dcPrev)
    }

    package static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    /// Direct NHWC convolution with explicit padding offsets.
    package static func conv2d(_ x: Tensor, _ w: Tensor, stride: (Int, Int), outH: Int, outW: Int,
                               padTop: Int, padLeft: Int) -> Tensor {
        let (n, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw, f) = (w.shape[0], w.shape[1], w.shape[3])
        let xv = x.scalarsAsDouble(), wv = w.scalarsAsDouble()
        var out = [Double](repeating: 0, count: n * outH * outW * f)
        for b in 0..<n { for oh in 0..<outH { for ow in 0..<outW { for o in 0..<f {
            var s = 0.0
            for i in 0..<kh { for j in 0..<kw {
                let ih = oh * stride.0 - padTop + i, iw = ow * stride.1 - padLeft + j
                guard ih >= 0, ih < h, iw >= 0, iw < wd else { continue }
                for ch in 0..<c { s += xv[((b * h + ih) * wd + iw) * c + ch] * wv[((i * kw + j) * c + ch) * f + o] }
            } }
            out[((b * outH + oh) * outW + ow) * f + o] = s
        } } } }
        return Tensor(shape: [n, outH, outW, f], scalars: out)
    }
}
