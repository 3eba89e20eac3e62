extension Tensor {
    /// Max pooling over NHWC windows. Keras: `MaxPooling2D`; strides default to the pool size.
    /// The gradient goes to the (first) maximal element of each window.
    public func maxPool2d(poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        let g = poolGeometry("maxPool2d", poolSize, strides, padding)
        return isFloat32("maxPool2d") ? maxPoolImpl(Float.self, g) : maxPoolImpl(Double.self, g)
    }

    /// Average pooling over NHWC windows. With `.same` padding the padded positions are not
    /// counted (TensorFlow's rule).
    public func avgPool2d(poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        let g = poolGeometry("avgPool2d", poolSize, strides, padding)
        return isFloat32("avgPool2d") ? avgPoolImpl(Float.self, g) : avgPoolImpl(Double.self, g)
    }

    private func poolGeometry(_ op: String, _ pool: (Int, Int), _ strides: (Int, Int)?, _ padding: Padding) -> WindowGeometry {
        precondition(rank == 4, "\(op): input \(shape) must be [N, H, W, C]")
        let s = strides ?? pool
        precondition(pool.0 > 0 && pool.1 > 0 && s.0 > 0 && s.1 > 0, "\(op): pool size \(pool) and strides \(s) must be positive")
        let g = WindowGeometry(inH: shape[1], inW: shape[2], kH: pool.0, kW: pool.1,
                               strideH: s.0, strideW: s.1, padding: padding)
        precondition(g.outH > 0 && g.outW > 0, "\(op): input \(shape) is smaller than the pool \(pool)")
        return g
    }

    /// Calls `body(outIndex, n, h0, h1, w0, w1)` per output pixel with its window's valid
    /// input rows and columns; images are processed on all cores (each writes only its own
    /// outputs).
    private func forEachWindow(_ g: WindowGeometry, _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let perImage = g.outH * g.outW * shape[3] * g.kH * g.kW
        Kernels.parallelFor(shape[0], grain: Swift.max(1, Kernels.parallelThreshold / Swift.max(perImage, 1))) { images in
            forEachWindow(g, images: images, body)
        }
    }

    private func forEachWindow(_ g: WindowGeometry, images: Range<Int>, _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
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

    /// Float32 max pooling through the SIMD kernel: images split across the cores; the backward
    /// pass scatters per image range too (each image's maxima lie in that image).
    private func maxPoolFloat(_ g: WindowGeometry) -> Tensor {
        let (n, c) = (shape[0], shape[3])
        let outShape = [n, g.outH, g.outW, c]
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * c
        let training = GradMode.isEnabled && node != nil
        let grain = Swift.max(1, Kernels.parallelThreshold / Swift.max(outImage * g.kH * g.kW, 1))
        // Every index is written by the kernel, so the array starts uninitialized.
        var argmax = [Int32](unsafeUninitializedCapacity: training ? n * outImage : 0) { _, count in count = training ? n * outImage : 0 }
        let window = g.c
        let out = withUnsafeBuffer(as: Float.self) { x in
            Tensor.build(outShape, as: Float.self) { out in
                argmax.withUnsafeMutableBufferPointer { idx in
                    nonisolated(unsafe) let (x, out, idx) = (x, out, idx)
                    Kernels.parallelFor(n, grain: grain) { images in
                        let lo = images.lowerBound
                        withUnsafePointer(to: window) { w in
                            Kernels.simd.max_pool(x.baseAddress! + lo * inImage, images.count, c, w,
                                                  out.baseAddress! + lo * outImage,
                                                  training ? idx.baseAddress! + lo * outImage : nil, lo * inImage)
                        }
                    }
                }
            }
        }
        guard training else { return out }
        let inputShape = shape
        return out.recorded("maxPool2d", inputs: [self]) { grad, _ in
            var dx = Tensor.zeros(inputShape, dtype: .float32)
            grad.withUnsafeBuffer(as: Float.self) { gp in
                dx.withUnsafeMutableBuffer(as: Float.self) { d in
                    argmax.withUnsafeBufferPointer { idx in
                        nonisolated(unsafe) let (gp, d, idx) = (gp, d, idx)
                        Kernels.parallelFor(n, grain: grain) { images in
                            let lo = images.lowerBound
                            Kernels.simd.scatter_add(gp.baseAddress! + lo * outImage, idx.baseAddress! + lo * outImage,
                                                     images.count * outImage, lo * inImage, d.baseAddress! + lo * inImage)
                        }
                    }
                }
            }
            return [dx]
        }
    }

    private func maxPoolImpl<T: FloatScalar>(_: T.Type, _ g: WindowGeometry) -> Tensor {
        if T.self == Float.self { return maxPoolFloat(g) }
        let c = shape[3]
        let outShape = [shape[0], g.outH, g.outW, c]
        guard GradMode.isEnabled && node != nil else {
            // Inference: the maxima alone (no argmax indices to fill and keep).
            return withUnsafeBuffer(as: T.self) { x in
                Tensor.build(outShape, as: T.self) { out in
                    nonisolated(unsafe) let (x, out) = (x, out)
                    forEachWindow(g) { o, n, h0, h1, w0, w1 in
                        let ob = o * c, first = ((n * g.inH + h0) * g.inW + w0) * c
                        for j in 0..<c { out[ob + j] = x[first + j] }
                        for h in h0..<h1 {
                            for w in w0..<w1 where h != h0 || w != w0 {
                                let ib = ((n * g.inH + h) * g.inW + w) * c
                                for j in 0..<c {  // NaN propagates, as in the training path
                                    let v = x[ib + j]
                                    out[ob + j] = v > out[ob + j] || v != v ? v : out[ob + j]
                                }
                            }
                        }
                    }
                }
            }
        }
        // Every index is written below, so the array starts uninitialized (no zeroing pass).
        var argmax = [Int32](unsafeUninitializedCapacity: Shape.count(outShape)) { _, count in count = Shape.count(outShape) }
        let out = withUnsafeBuffer(as: T.self) { x in
            Tensor.build(outShape, as: T.self) { out in
                argmax.withUnsafeMutableBufferPointer { idx in
                    nonisolated(unsafe) let (x, out, idx) = (x, out, idx)
                    forEachWindow(g) { o, n, h0, h1, w0, w1 in
                        // Start from the window's first position, then keep the first maximum.
                        let ob = o * c, first = ((n * g.inH + h0) * g.inW + w0) * c
                        for j in 0..<c { out[ob + j] = x[first + j]; idx[ob + j] = Int32(first + j) }
                        for h in h0..<h1 {
                            for w in w0..<w1 where h != h0 || w != w0 {
                                let ib = ((n * g.inH + h) * g.inW + w) * c
                                for j in 0..<c {  // branch-free, so it vectorizes
                                    let v = x[ib + j], better = v > out[ob + j] || v != v
                                    out[ob + j] = better ? v : out[ob + j]
                                    idx[ob + j] = better ? Int32(ib + j) : idx[ob + j]
                                }
                            }
                        }
                    }
                }
            }
        }
        let inputShape = shape
        return out.recorded("maxPool2d", inputs: [self]) { grad, _ in
            var dx = Tensor.zeros(inputShape, dtype: T.dtype)
            grad.withUnsafeBuffer(as: T.self) { gp in
                dx.withUnsafeMutableBuffer(as: T.self) { d in
                    for (i, at) in argmax.enumerated() { d[Int(at)] += gp[i] }
                }
            }
            return [dx]
        }
    }

    private func avgPoolImpl<T: FloatScalar>(_: T.Type, _ g: WindowGeometry) -> Tensor {
        let c = shape[3]
        let outShape = [shape[0], g.outH, g.outW, c]
        let out = withUnsafeBuffer(as: T.self) { x in
            Tensor.build(outShape, as: T.self) { out in
                forEachWindow(g) { o, n, h0, h1, w0, w1 in
                    let ob = o * c
                    let r = 1 / T((h1 - h0) * (w1 - w0))
                    for j in 0..<c { out[ob + j] = 0 }
                    for h in h0..<h1 {
                        for w in w0..<w1 {
                            let ib = ((n * g.inH + h) * g.inW + w) * c
                            for j in 0..<c { out[ob + j] += x[ib + j] }
                        }
                    }
                    for j in 0..<c { out[ob + j] *= r }
                }
            }
        }
        let input = detached()
        return out.recorded("avgPool2d", inputs: [self]) { grad, _ in
            var dx = Tensor.zeros(input.shape, dtype: T.dtype)
            grad.withUnsafeBuffer(as: T.self) { gp in
                dx.withUnsafeMutableBuffer(as: T.self) { d in
                    input.forEachWindow(g) { o, n, h0, h1, w0, w1 in
                        let ob = o * c
                        let r = 1 / T((h1 - h0) * (w1 - w0))
                        for h in h0..<h1 {
                            for w in w0..<w1 {
                                let ib = ((n * g.inH + h) * g.inW + w) * c
                                for j in 0..<c { d[ib + j] += gp[ob + j] * r }
                            }
                        }
                    }
                }
            }
            return [dx]
        }
    }

    /// Nearest-neighbour upsampling of NHWC images: each pixel repeated `size` times.
    /// Keras: `UpSampling2D`. The gradient sums each block.
    public func upsampling2d(size: (Int, Int) = (2, 2)) -> Tensor {
        precondition(rank == 4, "upsampling2d: input \(shape) must be [N, H, W, C]")
        precondition(size.0 > 0 && size.1 > 0, "upsampling2d: size \(size) must be positive")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        return reshaped(to: [n, h, 1, w, 1, c])
            .broadcasted(to: [n, h, size.0, w, size.1, c])
            .reshaped(to: [n, h * size.0, w * size.1, c])
    }
}
