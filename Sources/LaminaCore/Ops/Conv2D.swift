extension Tensor {
    /// 2-D convolution (cross-correlation, as in Keras and PyTorch) in NHWC.
    ///
    /// Shapes: input `[N, H, W, C]`, kernel `[KH, KW, C, F]` (Keras's layout) →
    /// `[N, OH, OW, F]`. Computed as im2col + one GEMM; the backward pass reuses the
    /// unfolded patches (dKernel = colsᵀ·g) and folds dCols = g·Kᵀ back with col2im.
    /// With `bias` ([F]), the result is `conv2d(kernel) + bias` in one pass: the GEMM
    /// accumulates onto rows that start from the bias. `fusedReLU` gives
    /// `relu(conv2d(kernel) + bias)`; at inference it is applied to each chunk of images while
    /// the chunk is still in cache (a Conv2D with `activation: .relu`).
    public func conv2d(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       fusedReLU: Bool = false) -> Tensor {
        precondition(rank == 4 && kernel.rank == 4,
                     "conv2d: input \(shape) must be [N, H, W, C] and kernel \(kernel.shape) [KH, KW, C, F]")
        precondition(shape[3] == kernel.shape[2],
                     "conv2d: input \(shape) has \(shape[3]) channels, kernel \(kernel.shape) expects \(kernel.shape[2])")
        precondition(dtype == kernel.dtype, "conv2d: dtypes \(dtype) and \(kernel.dtype) differ")
        precondition(bias.map { $0.shape == [kernel.shape[3]] && $0.dtype == dtype } ?? true,
                     "conv2d: bias \(bias?.shape ?? []) must be [\(kernel.shape[3])] of \(dtype)")
        precondition(strides.0 > 0 && strides.1 > 0, "conv2d: strides \(strides) must be positive")
        let geometry = WindowGeometry(inH: shape[1], inW: shape[2], kH: kernel.shape[0], kW: kernel.shape[1],
                                      strideH: strides.0, strideW: strides.1, padding: padding)
        precondition(geometry.outH > 0 && geometry.outW > 0,
                     "conv2d: input \(shape) is smaller than kernel \(kernel.shape) with padding \(padding)")
        let record = GradMode.isEnabled && (node != nil || kernel.node != nil || bias?.node != nil)
        let out: Tensor
        if Kernels.usesDirectConv(taps: kernel.shape[0] * kernel.shape[1] * shape[3]) {
            // Thin patches (a first layer): a direct loop, no patch matrix at all.
            out = isFloat32("conv2d") ? directConv2d(Float.self, kernel, bias, geometry, relu: fusedReLU && !record, record: record)
                : directConv2d(Double.self, kernel, bias, geometry, relu: fusedReLU && !record, record: record)
        } else if !record {
            // Inference: no patches to keep.
            out = isFloat32("conv2d") ? chunkedConv2d(Float.self, kernel, bias, geometry, relu: fusedReLU)
                : chunkedConv2d(Double.self, kernel, bias, geometry, relu: fusedReLU)
        } else {
            out = isFloat32("conv2d") ? conv2dImpl(Float.self, kernel, bias, geometry) : conv2dImpl(Double.self, kernel, bias, geometry)
        }
        return fusedReLU && record ? out.relu() : out
    }

    /// The input's gradient of a convolution: dCols = dOut·Kᵀ (one GEMM) folded back with col2im.
    private static func conv2dInputGradient<T: FloatScalar>(_: T.Type, _ dOut: Tensor, kernel w: Tensor,
                                                            inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        let dcols = Kernels.matmul(dOut, w, transB: true)
        var x = Tensor.zeros(inputShape, dtype: T.dtype)
        dcols.withUnsafeBuffer(as: T.self) { dc in
            x.withUnsafeMutableBuffer(as: T.self) { Kernels.col2im(dc, batch: inputShape[0], channels: inputShape[3], g, $0) }
        }
        return x
    }

    /// conv2d as a direct loop over each output pixel's window (`Kernels.convDirect`), images
    /// split across the cores. Backward: dKernel by the direct filter-gradient kernel (one
    /// partial sum per core), dInput through GEMM + col2im, dBias as column sums.
    private func directConv2d<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry,
                                              relu: Bool, record: Bool) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[3])
        let taps = g.kH * g.kW * c, inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * f
        let grain = Swift.max(1, Kernels.parallelThreshold / Swift.max(outImage * taps, 1))
        let x = detached(), w = kernel.detached(), b = bias?.detached()
        let out = x.withUnsafeBuffer(as: T.self) { xp in
            w.withUnsafeBuffer(as: T.self) { wp in
                (b ?? w).withUnsafeBuffer(as: T.self) { bp in
                    Tensor.build([n, g.outH, g.outW, f], as: T.self) { op in
                        nonisolated(unsafe) let (xp, wp, bp, op) = (xp.baseAddress!, wp.baseAddress!, b == nil ? nil : bp.baseAddress, op.baseAddress!)
                        Kernels.parallelFor(n, grain: grain) { r in
                            Kernels.convDirect(xp + r.lowerBound * inImage, images: r.count, channels: c, g, wp, filters: f,
                                               bias: bp, relu: relu, op + r.lowerBound * outImage)
                        }
                    }
                }
            }
        }
        guard record else { return out }
        let inputShape = shape
        return out.recorded("conv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let g2 = grad.reshaped(to: [n * g.outH * g.outW, f])
            let dx = needed[0] ? Tensor.conv2dInputGradient(T.self, g2, kernel: w.reshaped(to: [taps, f]), inputShape: inputShape, g) : nil
            var dw: Tensor?
            if needed[1] {
                let parts = Swift.min(ProcessInfoCache.cores, Swift.max(1, n / grain))
                var partial = [T](repeating: 0, count: parts * taps * f)
                x.withUnsafeBuffer(as: T.self) { xp in
                    grad.withUnsafeBuffer(as: T.self) { gp in
                        partial.withUnsafeMutableBufferPointer { pp in
                            nonisolated(unsafe) let (xp, gp, pp) = (xp.baseAddress!, gp.baseAddress!, pp.baseAddress!)
                            Kernels.parallelFor(parts) { range in
                                for part in range {
                                    let lo = n * part / parts, hi = n * (part + 1) / parts
                                    Kernels.convDirectFilterGradient(xp + lo * inImage, images: hi - lo, channels: c, g,
                                                                     gp + lo * outImage, filters: f, pp + part * taps * f)
                                }
                            }
                        }
                    }
                }
                for part in 1..<parts { for i in 0..<(taps * f) { partial[i] += partial[part * taps * f + i] } }
                dw = Tensor(shape: kernel.shape, scalars: Array(partial[0..<(taps * f)]))
            }
            guard needed.count > 2 else { return [dx, dw] }
            return [dx, dw, needed[2] ? g2.sum(axes: [0]) : nil]
        }
    }

    private func conv2dImpl<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[3])
        let k = g.kH * g.kW * c, rows = n * g.outH * g.outW
        let cols = withUnsafeBuffer(as: T.self) { x in
            Tensor.build([rows, k], as: T.self) { Kernels.im2col(x, batch: n, channels: c, g, $0) }
        }
        let w = kernel.detached().reshaped(to: [k, f])
        let out = Kernels.matmul(cols, w, bias: bias?.detached()).reshaped(to: [n, g.outH, g.outW, f])
        let inputShape = shape
        return out.recorded("conv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let g2 = grad.reshaped(to: [rows, f])
            let dx = needed[0] ? Tensor.conv2dInputGradient(T.self, g2, kernel: w, inputShape: inputShape, g) : nil
            let dw = needed[1] ? Kernels.matmul(cols, transA: true, g2).reshaped(to: kernel.shape) : nil
            guard needed.count > 2 else { return [dx, dw] }
            return [dx, dw, needed[2] ? g2.sum(axes: [0]) : nil]
        }
    }
}

extension Tensor {
    /// Images per im2col chunk at inference: small enough for the patch matrix to stay in cache.
    static let inferenceConvChunk = 32

    /// conv2d when nothing records gradients: im2col + GEMM over chunks of images, reusing
    /// one patch buffer, instead of one patch matrix for the whole batch (139 MB for the
    /// MNIST CNN's second layer at batch 1000). Each chunk's output rows start from the bias
    /// and get the ReLU right after their GEMM, while they are in cache.
    private func chunkedConv2d<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry,
                                               relu: Bool) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[3])
        let k = g.kH * g.kW * c, pixels = g.outH * g.outW, imageSize = shape[1] * shape[2] * c
        let chunk = Swift.min(n, Tensor.inferenceConvChunk)
        var cols = [T](unsafeUninitializedCapacity: chunk * pixels * k) { _, count in count = chunk * pixels * k }
        return withUnsafeBuffer(as: T.self) { x in
            kernel.withUnsafeBuffer(as: T.self) { w in
                Tensor.build([n, g.outH, g.outW, f], as: T.self) { out in
                    cols.withUnsafeMutableBufferPointer { cp in
                        for start in stride(from: 0, to: n, by: chunk) {
                            let count = Swift.min(chunk, n - start)
                            let images = UnsafeBufferPointer(rebasing: x[(start * imageSize)..<((start + count) * imageSize)])
                            let patches = UnsafeMutableBufferPointer(rebasing: cp[0..<(count * pixels * k)])
                            let rows = UnsafeMutableBufferPointer(rebasing: out[(start * pixels * f)..<((start + count) * pixels * f)])
                            Kernels.im2col(images, batch: count, channels: c, g, patches)
                            if let bias { Kernels.fillRows(rows, with: bias, width: f) }
                            Kernels.gemm(transA: false, transB: false, m: count * pixels, n: f, k: k,
                                         UnsafePointer(cp.baseAddress!), lda: k, w.baseAddress!, ldb: f,
                                         beta: bias == nil ? 0 : 1, rows.baseAddress!, ldc: f)
                            if relu {
                                let p = rows.baseAddress!
                                for i in 0..<rows.count { p[i] = Swift.max(p[i], 0) }
                            }
                        }
                    }
                }
            }
        }
    }
}
