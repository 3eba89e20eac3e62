/// The geometry of a depthwise convolution: the window (with the dilated kernel's extent),
/// the kernel's taps, their dilation, the channels and the depth multiplier.
struct DepthwiseGeometry {
    let window: WindowGeometry
    let kH: Int, kW: Int, dilationH: Int, dilationW: Int
    let channels: Int, multiplier: Int
    var outChannels: Int { channels * multiplier }

    /// Calls `body(outPixel, inPixel, tap)` for every tap of every output pixel of one image
    /// whose input pixel lies inside the image (pixels row-major, taps kh·KW + kw): the
    /// traversal the float64 loops of the forward pass and both gradients share.
    func forEachTap(_ body: (_ outPixel: Int, _ inPixel: Int, _ tap: Int) -> Void) {
        let g = window
        for oh in 0..<g.outH {
            for ow in 0..<g.outW {
                for kh in 0..<kH {
                    let ih = oh * g.strideH - g.padTop + kh * dilationH
                    if ih < 0 || ih >= g.inH { continue }
                    for kw in 0..<kW {
                        let iw = ow * g.strideW - g.padLeft + kw * dilationW
                        if iw >= 0 && iw < g.inW { body(oh * g.outW + ow, ih * g.inW + iw, kh * kW + kw) }
                    }
                }
            }
        }
    }

    /// dst[c·M + m] += x[c] · y[c·M + m] over one pixel's channels: each input channel times its
    /// M output channels (the forward pass with y the taps' weights; the kernel's gradient with y
    /// the output gradient) — the float64 twin of the C kernels' LK(multiply_add).
    func multiplyAdd<T: FloatScalar>(into dst: UnsafeMutablePointer<T>, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>) {
        let (c, m) = (channels, multiplier)
        if m == 1 {
            for j in 0..<c { dst[j] += x[j] * y[j] }
            return
        }
        for ch in 0..<c {
            let v = x[ch], dc = dst + ch * m, yc = y + ch * m
            for k in 0..<m { dc[k] += v * yc[k] }
        }
    }
}

extension Kernels {
    /// Depthwise convolution of NHWC `x` [N, H, W, C] with `w` [KH, KW, C, M] (+ `bias`
    /// [C·M]) → [N, OH, OW, C·M], output channel c·M + m (TensorFlow's order). Float32 runs
    /// the SIMD kernel (`lamina_kernel_table.depthwise`: with M = 1 each pixel's channels are
    /// whole vectors accumulated in registers over the taps); float64 the direct loop below,
    /// one pass over the pixel's channels per tap. Images are split across the cores.
    static func depthwiseConv<T: FloatScalar>(_: T.Type, _ x: Tensor, _ w: Tensor, bias: Tensor?, _ d: DepthwiseGeometry) -> Tensor {
        let g = d.window, n = x.shape[0], c = d.channels, m = d.multiplier, oc = d.outChannels
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * oc
        let zeros = [T](repeating: 0, count: oc)
        let biasValues = bias.map { $0.asArray(T.self) } ?? zeros
        return x.withUnsafeBuffer(as: T.self) { xb in
            w.withUnsafeBuffer(as: T.self) { wb in
                biasValues.withUnsafeBufferPointer { bb in
                    Tensor.build([n, g.outH, g.outW, oc], as: T.self) { ob in
                        let (xp, wp, bp, op) = (xb.baseAddress!, wb.baseAddress!, bb.baseAddress!, ob.baseAddress!)
                        let hasBias = bias != nil
                        parallelFor(n, grain: 1) { images in
                            if T.self == Float.self {  // the SIMD kernel
                                withUnsafePointer(to: g.c) {
                                    simd.depthwise(floats(xp + images.lowerBound * inImage), images.count, c, $0, d.kH, d.kW, d.dilationH,
                                                   d.dilationW, floats(wp), m, hasBias ? UnsafePointer(floats(bp)) : nil,
                                                   floats(op + images.lowerBound * outImage))
                                }
                                return
                            }
                            for image in images {
                                let xi = xp + image * inImage, oi = op + image * outImage
                                for pixel in 0..<(g.outH * g.outW) { for j in 0..<oc { oi[pixel * oc + j] = bp[j] } }
                                d.forEachTap { outPixel, inPixel, tap in
                                    d.multiplyAdd(into: oi + outPixel * oc, xi + inPixel * c, wp + tap * oc)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The input's gradient of `depthwiseConv`: each output pixel's gradient, times each tap,
    /// added back onto the input pixel it came from. Images are split across the cores.
    static func depthwiseConvInputGradient<T: FloatScalar>(_: T.Type, _ grad: Tensor, _ w: Tensor, inputShape: [Int],
                                                          _ d: DepthwiseGeometry) -> Tensor {
        let g = d.window, n = inputShape[0], c = d.channels, m = d.multiplier, oc = d.outChannels
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * oc
        var dx = Tensor.zeros(inputShape, dtype: T.dtype)
        grad.withUnsafeBuffer(as: T.self) { gb in
            w.withUnsafeBuffer(as: T.self) { wb in
                dx.withUnsafeMutableBuffer(as: T.self) { db in
                    let (gp, wp, dp) = (gb.baseAddress!, wb.baseAddress!, db.baseAddress!)
                    parallelFor(n, grain: 1) { images in
                        if T.self == Float.self {  // the SIMD kernel
                            withUnsafePointer(to: g.c) {
                                simd.depthwise_dx(floats(gp + images.lowerBound * outImage), images.count, c, $0, d.kH, d.kW, d.dilationH,
                                                  d.dilationW, floats(wp), m, floats(dp + images.lowerBound * inImage))
                            }
                            return
                        }
                        for image in images {
                            let di = dp + image * inImage, gi = gp + image * outImage
                            d.forEachTap { outPixel, inPixel, tap in
                                let go = gi + outPixel * oc, dr = di + inPixel * c, wr = wp + tap * oc
                                if m == 1 {
                                    for j in 0..<c { dr[j] += go[j] * wr[j] }
                                } else {
                                    for ch in 0..<c {
                                        var s: T = 0
                                        for k in 0..<m { s += go[ch * m + k] * wr[ch * m + k] }
                                        dr[ch] += s
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// The kernel's gradient of `depthwiseConv`: dW[kh, kw, c, m] = Σ x[n, ih, iw, c] · dOut[n, oh, ow, c·M + m].
    /// Each core sums its share of the images into its own buffer; the buffers are added at the end.
    static func depthwiseConvKernelGradient<T: FloatScalar>(_: T.Type, _ x: Tensor, _ grad: Tensor, kernelShape: [Int],
                                                           _ d: DepthwiseGeometry) -> Tensor {
        let g = d.window, n = x.shape[0], c = d.channels, m = d.multiplier, oc = d.outChannels
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * oc, size = d.kH * d.kW * oc
        let parts = Swift.max(1, Swift.min(ThreadCount.current, n))
        var partial = [T](repeating: 0, count: parts * size)
        x.withUnsafeBuffer(as: T.self) { xb in
            grad.withUnsafeBuffer(as: T.self) { gb in
                partial.withUnsafeMutableBufferPointer { pb in
                    let (xp, gp, pp) = (xb.baseAddress!, gb.baseAddress!, pb.baseAddress!)
                    parallelFor(parts, grain: 1) { chunk in
                        for part in chunk {
                            let dw = pp + part * size, lo = n * part / parts, hi = n * (part + 1) / parts
                            if T.self == Float.self {  // the SIMD kernel
                                withUnsafePointer(to: g.c) {
                                    simd.depthwise_dw(floats(xp + lo * inImage), hi - lo, c, $0, d.kH, d.kW, d.dilationH, d.dilationW,
                                                      floats(gp + lo * outImage), m, floats(dw))
                                }
                                continue
                            }
                            for image in lo..<hi {
                                let xi = xp + image * inImage, gi = gp + image * outImage
                                d.forEachTap { outPixel, inPixel, tap in
                                    d.multiplyAdd(into: dw + tap * oc, xi + inPixel * c, gi + outPixel * oc)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor.build(kernelShape, as: T.self) { out in
            for i in 0..<size {
                var s: T = 0
                for part in 0..<parts { s += partial[part * size + i] }
                out[i] = s
            }
        }
    }
}
