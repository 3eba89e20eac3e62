import LaminaCore

/// Naive references, independent of the kernels under test.
package enum Reference {
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
