extension Tensor {
    /// 2-D convolution (cross-correlation, as in Keras and PyTorch) in NHWC.
    ///
    /// Shapes: input `[N, H, W, C]`, kernel `[KH, KW, C, F]` (Keras's layout) →
    /// `[N, OH, OW, F]`. Computed as im2col + one GEMM; the backward pass reuses the
    /// unfolded patches (dKernel = colsᵀ·g) and folds dCols = g·Kᵀ back with col2im. Thin
    /// patches (`Kernels.directConvMaxTaps`) use a direct loop instead.
    /// With `bias` ([F]), the result is `conv2d(kernel) + bias` in one pass: the GEMM
    /// accumulates onto rows that start from the bias. `fusedReLU` gives
    /// `relu(conv2d(kernel) + bias)`; at inference it is applied to each chunk of images while
    /// the chunk is still in cache (a Conv2D with `activation: .relu`).
    public func conv2d(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       fusedReLU: Bool = false) -> Tensor {
        let geometry = convGeometry(kernel, bias, strides, padding)
        let record = GradMode.isEnabled && (node != nil || kernel.node != nil || bias?.node != nil)
        if !record && isFloat32("conv2d") {  // inference: chunks of images, nothing kept
            return inferenceConv2d(kernel, bias, geometry, relu: fusedReLU, pool: nil)
        }
        // Thin patches (a first layer) run as a direct loop, with no patch matrix at all.
        let direct = Kernels.usesDirectConv(taps: kernel.shape[0] * kernel.shape[1] * shape[3])
        let out = isFloat32("conv2d")
            ? (direct ? directConv2d(Float.self, kernel, bias, geometry) : conv2dImpl(Float.self, kernel, bias, geometry))
            : (direct ? directConv2d(Double.self, kernel, bias, geometry) : conv2dImpl(Double.self, kernel, bias, geometry))
        return fusedReLU ? out.relu() : out
    }

    /// Checks a convolution's operands; returns its geometry.
    private func convGeometry(_ kernel: Tensor, _ bias: Tensor?, _ strides: (Int, Int), _ padding: Padding) -> WindowGeometry {
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
        return geometry
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
    private func directConv2d<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry) -> Tensor {
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
                                               bias: bp, relu: false, op + r.lowerBound * outImage)
                        }
                    }
                }
            }
        }
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

extension Kernels {
    /// Inference convolutions work through chunks of images whose patch rows and outputs take
    /// about this many bytes, so they stay in a core's L2 cache between the convolution, its
    /// ReLU and a following max pooling.
    static let inferenceChunkBytes = 1 << 19
}

extension Tensor {
    /// `conv2d` (with `fusedReLU`) followed by `maxPool2d`, in one pass at inference: each
    /// core takes chunks of images, convolves a chunk into a scratch buffer that stays in its
    /// cache and pools it straight into the output — the full-size convolution output (86 MB
    /// for the MNIST convnet's first layer at batch 1000) is never written. When gradients are
    /// recorded it is exactly `conv2d(...).maxPool2d(...)`.
    public func conv2dMaxPool(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                              fusedReLU: Bool = false, poolSize: (Int, Int), poolStrides: (Int, Int)? = nil,
                              poolPadding: Padding = .valid) -> Tensor {
        let recording = GradMode.isEnabled && (node != nil || kernel.node != nil || bias?.node != nil)
        guard !recording, dtype == .float32, rank == 4, kernel.rank == 4 else {
            return conv2d(kernel, bias: bias, strides: strides, padding: padding, fusedReLU: fusedReLU)
                .maxPool2d(poolSize: poolSize, strides: poolStrides, padding: poolPadding)
        }
        let geometry = convGeometry(kernel, bias, strides, padding)
        let s = poolStrides ?? poolSize
        precondition(poolSize.0 > 0 && poolSize.1 > 0 && s.0 > 0 && s.1 > 0, "conv2dMaxPool: pool size \(poolSize) and strides \(s) must be positive")
        let pool = WindowGeometry(inH: geometry.outH, inW: geometry.outW, kH: poolSize.0, kW: poolSize.1,
                                  strideH: s.0, strideW: s.1, padding: poolPadding)
        precondition(pool.outH > 0 && pool.outW > 0, "conv2dMaxPool: convolution output \(geometry.outH)×\(geometry.outW) is smaller than the pool \(poolSize)")
        return inferenceConv2d(kernel, bias, geometry, relu: fusedReLU, pool: pool)
    }

    /// conv2d when nothing records gradients (float32): the cores take chunks of images
    /// (`Kernels.inferenceChunkBytes`), each with its own scratch; per chunk a direct
    /// convolution or im2col + one single-threaded GEMM whose rows start from the bias, the
    /// ReLU while the rows are in cache, and optionally a max pooling of the chunk.
    func inferenceConv2d(_ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry, relu: Bool, pool: WindowGeometry?) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[3])
        let taps = g.kH * g.kW * c, pixels = g.outH * g.outW, imageSize = shape[1] * shape[2] * c
        let direct = Kernels.usesDirectConv(taps: taps)
        let outImage = pool.map { $0.outH * $0.outW * f } ?? pixels * f
        let perImage = (direct ? 0 : pixels * taps) + (pool == nil ? 0 : pixels * f)
        let chunk = Swift.max(1, Swift.min(n, Kernels.inferenceChunkBytes / Swift.max(1, 4 * (perImage + pixels * f))))
        let chunks = (n + chunk - 1) / chunk
        let outShape = pool.map { [n, $0.outH, $0.outW, f] } ?? [n, g.outH, g.outW, f]
        let window = g.c, poolWindow = pool?.c
        _ = Kernels.backendReady
        return withUnsafeBuffer(as: Float.self) { x in
            kernel.withUnsafeBuffer(as: Float.self) { w in
                (bias ?? kernel).withUnsafeBuffer(as: Float.self) { b in
                    Tensor.build(outShape, as: Float.self) { out in
                        nonisolated(unsafe) let (x, w, b, out) = (x.baseAddress!, w.baseAddress!, bias == nil ? nil : b.baseAddress, out.baseAddress!)
                        Kernels.parallelFor(chunks) { range in
                            // This core's scratch: patch rows and, before pooling, the convolution output.
                            let patchCount = direct ? 0 : chunk * pixels * taps, convCount = pool == nil ? 0 : chunk * pixels * f
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, patchCount + convCount))
                            defer { scratch.deallocate() }
                            for index in range {
                                let start = index * chunk, count = Swift.min(chunk, n - start)
                                let images = x + start * imageSize
                                let conv = pool == nil ? out + start * outImage : scratch + patchCount
                                withUnsafePointer(to: window) { wp in
                                    if direct {
                                        Kernels.simd.conv_direct(images, count, c, wp, w, f, b, relu ? 1 : 0, conv)
                                        return
                                    }
                                    Kernels.simd.im2col(images, count, c, wp, scratch)
                                    let rows = count * pixels
                                    if let b { for r in 0..<rows { (conv + r * f).update(from: b, count: f) } }
                                    Kernels.blasGemm(false, false, rows, f, taps, 1, UnsafePointer(scratch), taps, w, f,
                                                     b == nil ? 0 : 1, conv, f)
                                    if relu { Kernels.simd.relu(conv, conv, rows * f) }
                                }
                                if let poolWindow {
                                    withUnsafePointer(to: poolWindow) { Kernels.simd.max_pool(conv, count, f, $0, out + start * outImage, nil, 0) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
