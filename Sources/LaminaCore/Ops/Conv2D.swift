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
        if !(GradMode.isEnabled && (node != nil || kernel.node != nil || bias?.node != nil)) {
            // Inference: no patches to keep.
            return isFloat32("conv2d") ? chunkedConv2d(Float.self, kernel, bias, geometry, relu: fusedReLU)
                : chunkedConv2d(Double.self, kernel, bias, geometry, relu: fusedReLU)
        }
        let out = isFloat32("conv2d") ? conv2dImpl(Float.self, kernel, bias, geometry) : conv2dImpl(Double.self, kernel, bias, geometry)
        return fusedReLU ? out.relu() : out
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
            var dx: Tensor?
            if needed[0] {
                let dcols = Kernels.matmul(g2, w, transB: true)
                var x = Tensor.zeros(inputShape, dtype: T.dtype)
                dcols.withUnsafeBuffer(as: T.self) { dc in
                    x.withUnsafeMutableBuffer(as: T.self) { Kernels.col2im(dc, batch: n, channels: c, g, $0) }
                }
                dx = x
            }
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
