/// The geometry of a depthwise convolution: the window (with the dilated kernel's extent),
/// the kernel's taps, their dilation, the channels and the depth multiplier.
struct DepthwiseGeometry {
    let window: WindowGeometry
    let kH: Int, kW: Int, dilationH: Int, dilationW: Int
    let channels: Int, multiplier: Int
    var outChannels: Int { channels * multiplier }
}

extension Kernels {
    /// Depthwise convolution of NHWC `x` [N, H, W, C] with `w` [KH, KW, C, M] (+ `bias`
    /// [C·M]) → [N, OH, OW, C·M], output channel c·M + m (TensorFlow's order), by the C kernel
    /// of the element type (`lamina_kernel_table.depthwise`: with M = 1 each pixel's channels
    /// are whole vectors accumulated in registers over the taps). Images are split across the
    /// cores. A float32 `epilogue` (a batch normalization, a ReLU) is applied to each image's
    /// output right after it is computed, while it is in cache.
    static func depthwiseConv<T: FloatScalar>(_: T.Type, _ x: Tensor, _ w: Tensor, bias: Tensor?, _ d: DepthwiseGeometry,
                                              epilogue: ConvEpilogue = .none) -> Tensor {
        precondition(epilogue.isNone || T.self == Float.self, "depthwiseConv: an epilogue is float32")
        let g = d.window, n = x.shape[0], c = d.channels, oc = d.outChannels
        let packed = epilogue.packed
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
                            guard !epilogue.isNone else {
                                CKernels<T>.depthwise(xp + images.lowerBound * inImage, images.count, d, wp,
                                                      hasBias ? UnsafePointer(bp) : nil, op + images.lowerBound * outImage)
                                return
                            }
                            for image in images {
                                let out = op + image * outImage
                                CKernels<T>.depthwise(xp + image * inImage, 1, d, wp, hasBias ? UnsafePointer(bp) : nil, out)
                                ConvEpilogue.apply(UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), rows: g.outH * g.outW,
                                                   channels: oc, packed, residual: nil, lower: epilogue.lower, upper: epilogue.upper)
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
        let g = d.window, n = inputShape[0], c = d.channels, oc = d.outChannels
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * oc
        var dx = Tensor.zeros(inputShape, dtype: T.dtype)
        grad.withUnsafeBuffer(as: T.self) { gb in
            w.withUnsafeBuffer(as: T.self) { wb in
                dx.withUnsafeMutableBuffer(as: T.self) { db in
                    let (gp, wp, dp) = (gb.baseAddress!, wb.baseAddress!, db.baseAddress!)
                    parallelFor(n, grain: 1) { images in
                        CKernels<T>.depthwiseInputGradient(gp + images.lowerBound * outImage, images.count, d, wp,
                                                           dp + images.lowerBound * inImage)
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
        let g = d.window, n = x.shape[0], c = d.channels, oc = d.outChannels
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
                            CKernels<T>.depthwiseKernelGradient(xp + lo * inImage, hi - lo, d, gp + lo * outImage, dw)
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
