extension Kernels {
    /// Max pooling of NHWC `x`; with `argmax`, also the flat input index of each output's
    /// (first) maximum, for the backward pass. NaN propagates (a window's last NaN is its
    /// maximum). The C kernel of the element type; images are split across the cores.
    static func maxPool(_ x: Tensor, _ g: WindowGeometry, argmax: Bool) -> (Tensor, [Int32]) {
        let count = argmax ? x.shape[0] * g.outH * g.outW * x.shape[3] : 0
        // Every index is written below, so the array starts uninitialized.
        // (Without argmax, a plain empty array: an empty unsafeUninitializedCapacity array writes
        // the shared empty-array storage, a race when several threads pool at once.)
        var indices = count == 0 ? [] : [Int32](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        let out = indices.withUnsafeMutableBufferPointer { idx in
            nonisolated(unsafe) let idx = idx
            return x.dtype == .float32
                ? maxPoolImpl(Float.self, x, g, idx, argmax)
                : maxPoolImpl(Double.self, x, g, idx, argmax)
        }
        return (out, indices)
    }

    private static func maxPoolImpl<T: FloatScalar>(_: T.Type, _ x: Tensor, _ g: WindowGeometry,
                                                    _ idx: UnsafeMutableBufferPointer<Int32>, _ argmax: Bool) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[3])
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * c
        return x.withUnsafeBuffer(as: T.self) { xp in
            Tensor.build([n, g.outH, g.outW, c], as: T.self) { out in
                nonisolated(unsafe) let (xp, out, idx) = (xp, out, idx)
                parallelFor(n, grain: poolGrain(g, c)) { images in
                    let lo = images.lowerBound
                    CKernels<T>.maxPool(xp.baseAddress! + lo * inImage, images.count, c, g, out.baseAddress! + lo * outImage,
                                        argmax ? idx.baseAddress! + lo * outImage : nil, lo * inImage)
                }
            }
        }
    }

    /// The gradient of max pooling: each output's gradient added at its argmax. Images are
    /// split across the cores (an image's maxima lie in that image).
    static func maxPoolBackward(_ grad: Tensor, argmax: [Int32], inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        grad.dtype == .float32 ? maxPoolBackwardImpl(Float.self, grad, argmax, inputShape, g)
            : maxPoolBackwardImpl(Double.self, grad, argmax, inputShape, g)
    }

    private static func maxPoolBackwardImpl<T: FloatScalar>(_: T.Type, _ grad: Tensor, _ argmax: [Int32],
                                                            _ inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        let (n, c) = (inputShape[0], inputShape[3])
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * c
        // Image by image: zero the image's gradient, then scatter into it while it is in cache
        // (one pass over memory instead of a whole-tensor memset and then a scatter).
        return grad.withUnsafeBuffer(as: T.self) { gp in
            argmax.withUnsafeBufferPointer { idx in
                Tensor.build(inputShape, as: T.self) { d in
                    nonisolated(unsafe) let (gp, d, idx) = (gp, d, idx)
                    parallelFor(n, grain: poolGrain(g, c)) { images in
                        for image in images {
                            let dImage = d.baseAddress! + image * inImage
                            dImage.initialize(repeating: 0, count: inImage)
                            guard outImage > 0 else { continue }  // no indices (an empty array has no address)
                            CKernels<T>.scatterAdd(gp.baseAddress! + image * outImage, idx.baseAddress! + image * outImage,
                                                   outImage, image * inImage, dImage)
                        }
                    }
                }
            }
        }
    }

    /// Average pooling of NHWC `x`; with `.same` padding the padded positions are not counted
    /// (TensorFlow's rule).
    static func avgPool(_ x: Tensor, _ g: WindowGeometry) -> Tensor {
        x.dtype == .float32 ? avgPoolImpl(Float.self, x, g) : avgPoolImpl(Double.self, x, g)
    }

    private static func avgPoolImpl<T: FloatScalar>(_: T.Type, _ x: Tensor, _ g: WindowGeometry) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[3])
        return x.withUnsafeBuffer(as: T.self) { xp in
            Tensor.build([n, g.outH, g.outW, c], as: T.self) { out in
                nonisolated(unsafe) let (xp, out) = (xp, out)
                parallelFor(n, grain: poolGrain(g, c)) { images in
                    forEachWindow(g, images: images) { o, n, h0, h1, w0, w1 in
                        let ob = o * c, r = 1 / T((h1 - h0) * (w1 - w0))
                        for j in 0..<c { out[ob + j] = 0 }
                        for h in h0..<h1 {
                            for w in w0..<w1 {
                                let ib = ((n * g.inH + h) * g.inW + w) * c
                                for j in 0..<c { out[ob + j] += xp[ib + j] }
                            }
                        }
                        for j in 0..<c { out[ob + j] *= r }
                    }
                }
            }
        }
    }

    /// The gradient of average pooling: each output's gradient spread over its window.
    static func avgPoolBackward(_ grad: Tensor, inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        grad.dtype == .float32 ? avgPoolBackwardImpl(Float.self, grad, inputShape, g)
            : avgPoolBackwardImpl(Double.self, grad, inputShape, g)
    }

    private static func avgPoolBackwardImpl<T: FloatScalar>(_: T.Type, _ grad: Tensor, _ inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        let c = inputShape[3]
        var dx = Tensor.zeros(inputShape, dtype: T.dtype)
        grad.withUnsafeBuffer(as: T.self) { gp in
            dx.withUnsafeMutableBuffer(as: T.self) { d in
                nonisolated(unsafe) let (gp, d) = (gp, d)
                // Windows may overlap across images' edges only within an image: split by image.
                parallelFor(inputShape[0], grain: poolGrain(g, c)) { images in
                    forEachWindow(g, images: images) { o, n, h0, h1, w0, w1 in
                        let ob = o * c, r = 1 / T((h1 - h0) * (w1 - w0))
                        for h in h0..<h1 {
                            for w in w0..<w1 {
                                let ib = ((n * g.inH + h) * g.inW + w) * c
                                for j in 0..<c { d[ib + j] += gp[ob + j] * r }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Images per parallel chunk of a pooling: at least `parallelThreshold` window elements.
    private static func poolGrain(_ g: WindowGeometry, _ c: Int) -> Int {
        Swift.max(1, parallelThreshold / Swift.max(g.outH * g.outW * c * g.kH * g.kW, 1))
    }

    /// Calls `body(outPixel, n, h0, h1, w0, w1)` for each output pixel of `images` with its
    /// window's valid input rows and columns.
    private static func forEachWindow(_ g: WindowGeometry, images: Range<Int>, _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        for n in images {
            for oh in 0..<g.outH {
                let h0 = Swift.max(oh * g.strideH - g.padTop, 0), h1 = Swift.min(oh * g.strideH - g.padTop + g.kH, g.inH)
                for ow in 0..<g.outW {
                    let w0 = Swift.max(ow * g.strideW - g.padLeft, 0), w1 = Swift.min(ow * g.strideW - g.padLeft + g.kW, g.inW)
                    body((n * g.outH + oh) * g.outW + ow, n, h0, h1, w0, w1)
                }
            }
        }
    }
}
