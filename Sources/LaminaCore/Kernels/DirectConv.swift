extension Kernels {
    /// Convolutions whose patch rows are at most this long (kH·kW·C: the MNIST convnet's first
    /// layer has 9) run as a direct loop instead of im2col + GEMM. Unfolding such thin patches
    /// costs more memory traffic than the GEMM saves, while a direct kernel keeps the filters'
    /// accumulators in vector registers.
    static let directConvMaxTaps = 32

    static func usesDirectConv(taps: Int) -> Bool { taps <= directConvMaxTaps }

    /// out[n, oh, ow, :] = bias + Σ x·w over the window (then max(·, 0) with `relu`), for
    /// `images` NHWC images; kernel [kH, kW, C, F].
    static func convDirect<T: FloatScalar>(_ x: UnsafePointer<T>, images: Int, channels c: Int, _ g: WindowGeometry,
                                           _ w: UnsafePointer<T>, filters f: Int, bias: UnsafePointer<T>?, relu: Bool,
                                           _ out: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            withUnsafePointer(to: g.c) {
                simd.conv_direct(floats(x), images, c, $0, floats(w), f, bias.map { UnsafePointer(floats($0)) }, relu ? 1 : 0, floats(out))
            }
            return
        }
        forEachTap(images: images, channels: c, g) { pixel, xo, wo in
            let o = out + pixel * f
            if xo < 0 {  // first visit of the pixel: start from the bias
                for j in 0..<f { o[j] = bias?[j] ?? 0 }
                return
            }
            let xs = x[xo]
            for j in 0..<f { o[j] += xs * w[wo * f + j] }
        }
        if relu { for i in 0..<(images * g.outH * g.outW * f) { out[i] = out[i] > 0 ? out[i] : 0 } }
    }

    /// dW[kh, kw, c, :] += Σ x · dOut over the output pixels of `images` images.
    static func convDirectFilterGradient<T: FloatScalar>(_ x: UnsafePointer<T>, images: Int, channels c: Int, _ g: WindowGeometry,
                                                         _ dOut: UnsafePointer<T>, filters f: Int, _ dw: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            withUnsafePointer(to: g.c) { simd.conv_direct_dw(floats(x), images, c, $0, floats(dOut), f, floats(dw)) }
            return
        }
        forEachTap(images: images, channels: c, g) { pixel, xo, wo in
            guard xo >= 0 else { return }
            let xs = x[xo], d = dOut + pixel * f
            for j in 0..<f { dw[wo * f + j] += xs * d[j] }
        }
    }

    /// Calls `body(pixel, −1, −1)` once per output pixel, then `body(pixel, xIndex, wRow)` for
    /// each in-bounds tap of its window and channel: the input element and the kernel row
    /// (kh·kW + kw)·C + c it multiplies. The float64 path of the direct convolution.
    private static func forEachTap(images: Int, channels c: Int, _ g: WindowGeometry, _ body: (Int, Int, Int) -> Void) {
        for n in 0..<images {
            for oh in 0..<g.outH {
                for ow in 0..<g.outW {
                    let pixel = (n * g.outH + oh) * g.outW + ow
                    body(pixel, -1, -1)
                    for kh in 0..<g.kH {
                        let ih = oh * g.strideH - g.padTop + kh
                        guard ih >= 0 && ih < g.inH else { continue }
                        for kw in 0..<g.kW {
                            let iw = ow * g.strideW - g.padLeft + kw
                            guard iw >= 0 && iw < g.inW else { continue }
                            for ch in 0..<c { body(pixel, ((n * g.inH + ih) * g.inW + iw) * c + ch, (kh * g.kW + kw) * c + ch) }
                        }
                    }
                }
            }
        }
    }
}
