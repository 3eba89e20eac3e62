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
        if !GradMode.records([self, kernel, bias]) && isFloat32("conv2d") {  // inference: chunks of images, nothing kept
            return Kernels.chunkedConv2d(self, kernel, bias, geometry, epilogue: fusedReLU ? .relu : .none, pool: nil)
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

    /// The kernel gradient colsᵀ·dOut of an im2col convolution: from the input x itself where
    /// `fromInput` (float32 on the own GEMM), else from the patch matrix cols kept by the forward
    /// pass. Should the GEMM's buffer be unavailable, the input's patches are unfolded here.
    private static func conv2dFilterGradient(_ source: Tensor, fromInput: Bool, _ dOut: Tensor, _ g: WindowGeometry,
                                             kernelShape: [Int]) -> Tensor {
        guard fromInput else { return Kernels.matmul(source, transA: true, dOut).reshaped(to: kernelShape) }
        let (n, c, f) = (source.shape[0], source.shape[3], kernelShape[3])
        var done = true
        let dk = Tensor.build([kernelShape[0] * kernelShape[1] * c, f], as: Float.self) { dk in
            source.withUnsafeBuffer(as: Float.self) { x in
                dOut.withUnsafeBuffer(as: Float.self) { d in
                    done = Kernels.convFilterGradientFromInput(x.baseAddress!, batch: n, channels: c, g, d.baseAddress!,
                                                               filters: f, dk.baseAddress!)
                }
            }
        }
        guard !done else { return dk.reshaped(to: kernelShape) }
        return Kernels.matmul(source.patchMatrix(Float.self, g), transA: true, dOut).reshaped(to: kernelShape)
    }

    /// The im2col matrix of these NHWC images under window `g`: [N·outH·outW, kH·kW·C].
    private func patchMatrix<T: FloatScalar>(_: T.Type, _ g: WindowGeometry) -> Tensor {
        let (n, c) = (shape[0], shape[3])
        return withUnsafeBuffer(as: T.self) { x in
            Tensor.build([n * g.outH * g.outW, g.kH * g.kW * c], as: T.self) { Kernels.im2col(x, batch: n, channels: c, g, $0) }
        }
    }

    /// conv2d as a direct loop over each output pixel's window. Backward: dKernel by the
    /// direct filter-gradient kernel, dInput through GEMM + col2im, dBias as column sums.
    private func directConv2d<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry) -> Tensor {
        let x = detached(), w = kernel.detached(), f = kernel.shape[3], taps = g.kH * g.kW * shape[3]
        let out = Kernels.convDirect(T.self, x, w, bias: bias?.detached(), g)
        let inputShape = shape
        return out.recorded("conv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let g2 = grad.reshaped(to: [grad.count / f, f])
            let dx = needed[0] ? Tensor.conv2dInputGradient(T.self, g2, kernel: w.reshaped(to: [taps, f]), inputShape: inputShape, g) : nil
            let dw = needed[1] ? Kernels.convDirectFilterGradient(T.self, x, grad, kernelShape: w.shape, g) : nil
            guard needed.count > 2 else { return [dx, dw] }
            return [dx, dw, needed[2] ? g2.sum(axes: [0]) : nil]
        }
    }

    /// conv2d as im2col + GEMM. Where the own GEMM runs the kernel gradient (float32,
    /// `filterGradientReadsInput`) it reads the input's windows, so no pass needs the whole patch
    /// matrix (kH·kW times the input): the forward pass and the input gradient run in chunks of
    /// images through cache (`chunkedConv2d`, `chunkedConv2dInputGradient`). Otherwise the
    /// patches are unfolded once and kept for the kernel gradient.
    private func conv2dImpl<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[3])
        let k = g.kH * g.kW * c, rows = n * g.outH * g.outW
        let w = kernel.detached().reshaped(to: [k, f])
        let fromInput = T.self == Float.self && Kernels.filterGradientReadsInput(taps: k, filters: f, rows: rows)
        let x = detached(), out: Tensor, patches: Tensor
        if fromInput {
            out = Kernels.chunkedConv2d(x, kernel.detached(), bias?.detached(), g, epilogue: .none, pool: nil)
            patches = x
        } else {
            patches = patchMatrix(T.self, g)
            out = Kernels.matmul(patches, w, bias: bias?.detached()).reshaped(to: [n, g.outH, g.outW, f])
        }
        let inputShape = shape
        return out.recorded("conv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let g2 = grad.reshaped(to: [rows, f])
            let dx = needed[0] ? (fromInput ? Kernels.chunkedConv2dInputGradient(g2, kernel: w, inputShape: inputShape, g)
                                            : Tensor.conv2dInputGradient(T.self, g2, kernel: w, inputShape: inputShape, g)) : nil
            let dw = needed[1] ? Tensor.conv2dFilterGradient(patches, fromInput: fromInput, g2, g, kernelShape: kernel.shape) : nil
            guard needed.count > 2 else { return [dx, dw] }
            return [dx, dw, needed[2] ? g2.sum(axes: [0]) : nil]
        }
    }
}

extension Tensor {
    /// `conv2d` (with `fusedReLU`) followed by `maxPool2d`, in one pass at inference: each
    /// core takes chunks of images, convolves a chunk into a scratch buffer that stays in its
    /// cache and pools it straight into the output — the full-size convolution output (86 MB
    /// for the MNIST convnet's first layer at batch 1000) is never written. When gradients are
    /// recorded the ReLU comes after the pooling: the max of ReLUs is the ReLU of the max (both
    /// exact), and the gradient reaches the same input (the window's first maximum) or is 0 in
    /// both orders, so values and gradients are those of `conv2d(…, fusedReLU:).maxPool2d(…)`
    /// while the ReLU and its backward pass touch a quarter of the values (2×2 pools). In
    /// float32, where the convolution is direct or the own GEMM reads its kernel gradient from
    /// the input (`Kernels.filterGradientReadsInput`), training runs the same chunks of images:
    /// the forward pass keeps the pooled values and their maxima's positions, the backward pass
    /// scatters each chunk's gradient into scratch and takes the kernel and input gradients
    /// from it there (`Kernels.chunkedConv2dMaxPoolBackward`) — the convolution output and its
    /// gradient are never whole. Otherwise `conv2d(...).maxPool2d(...)`.
    public func conv2dMaxPool(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                              fusedReLU: Bool = false, poolSize: (Int, Int), poolStrides: (Int, Int)? = nil,
                              poolPadding: Padding = .valid) -> Tensor {
        func composition() -> Tensor {
            let pooled = conv2d(kernel, bias: bias, strides: strides, padding: padding)
                .maxPool2d(poolSize: poolSize, strides: poolStrides, padding: poolPadding)
            return fusedReLU ? pooled.relu() : pooled
        }
        guard dtype == .float32, rank == 4, kernel.rank == 4 else { return composition() }
        let geometry = convGeometry(kernel, bias, strides, padding)
        let s = poolStrides ?? poolSize
        precondition(poolSize.0 > 0 && poolSize.1 > 0 && s.0 > 0 && s.1 > 0, "conv2dMaxPool: pool size \(poolSize) and strides \(s) must be positive")
        let pool = WindowGeometry(inH: geometry.outH, inW: geometry.outW, kH: poolSize.0, kW: poolSize.1,
                                  strideH: s.0, strideW: s.1, padding: poolPadding)
        precondition(pool.outH > 0 && pool.outW > 0, "conv2dMaxPool: convolution output \(geometry.outH)×\(geometry.outW) is smaller than the pool \(poolSize)")
        guard GradMode.records([self, kernel, bias]) else {
            return Kernels.chunkedConv2d(self, kernel, bias, geometry, epilogue: fusedReLU ? .relu : .none, pool: pool)
        }
        let (f, taps) = (kernel.shape[3], kernel.shape[0] * kernel.shape[1] * shape[3])
        let direct = Kernels.usesDirectConv(taps: taps), convCount = shape[0] * geometry.outH * geometry.outW * f
        // The maxima's positions are int32 flat indices into the whole convolution output.
        guard direct || Kernels.filterGradientReadsInput(taps: taps, filters: f, rows: convCount / f),
              convCount <= Int(Int32.max) else { return composition() }
        var positions = [Int32](repeating: 0, count: shape[0] * pool.outH * pool.outW * f)
        let x = detached(), w = kernel.detached()
        let pooled = positions.withUnsafeMutableBufferPointer {
            Kernels.chunkedConv2d(x, w, bias?.detached(), geometry, epilogue: .none, pool: pool, argmax: $0.baseAddress)
        }
        let argmax = positions
        let out = pooled.recorded("conv2dMaxPool", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let (dx, dw) = Kernels.chunkedConv2dMaxPoolBackward(grad, argmax: argmax, x: x, kernel: w.reshaped(to: [taps, f]), geometry,
                                                                pool: pool, direct: direct, inputGradient: needed[0],
                                                                kernelGradient: needed[1])
            let dk = dw?.reshaped(to: w.shape)
            guard needed.count > 2 else { return [dx, dk] }
            return [dx, dk, needed[2] ? grad.reshaped(to: [grad.count / f, f]).sum(axes: [0]) : nil]
        }
        return fusedReLU ? out.relu() : out
    }
}

/// The operands of `Tensor.batchNormalizationInference` (the moving statistics and the learned
/// scale and offset of a `BatchNormalization` layer), for the ops that apply that normalization
/// to their output at inference: `Tensor.conv2d(_:…normalizedBy:…)` and
/// `Tensor.depthwiseConv2d(_:…normalizedBy:…)`.
public struct BatchNormInference: Sendable {
    /// `[C]` each, of the input's dtype; gamma and beta may be nil (1 and 0).
    public var mean: Tensor, variance: Tensor, gamma: Tensor?, beta: Tensor?
    /// Added to the variance.
    public var epsilon: Double

    /// The statistics, scale and offset of a normalization over C channels.
    public init(mean: Tensor, variance: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Double) {
        (self.mean, self.variance, self.gamma, self.beta, self.epsilon) = (mean, variance, gamma, beta, epsilon)
    }
}

extension Kernels.ConvEpilogue {
    /// Batch normalization at inference (float32, `channels` of each vector), then the ReLU
    /// with its cap where `relu`.
    init(_ n: BatchNormInference, channels: Int, relu: Bool, reluMaxValue: Double?) {
        precondition([n.mean, n.variance, n.gamma, n.beta].allSatisfy { $0.map { $0.shape == [channels] && $0.dtype == .float32 } ?? true },
                     "normalizedBy: mean, variance, gamma and beta must be [\(channels)] float32")
        let (mean, _, _, scale) = Tensor.inferenceAffine(Float.self, n.mean, n.variance, n.gamma, n.epsilon)
        self.init(mean: mean.map { Float($0) }, scale: scale.map { Float($0) }, shift: n.beta?.asArray(Float.self),
                  lower: relu ? 0 : -.infinity, upper: relu ? Float(reluMaxValue ?? .infinity) : .infinity)
    }
}

extension Tensor {
    /// `conv2d(kernel, bias:…)`, then `batchNormalizationInference` with `normalization`, then
    /// `residual + ·` where given, then (with `fusedReLU`) `relu(maxValue: reluMaxValue)` —
    /// ResNets' and MobileNets' Conv2D → BatchNormalization (→ Add) → ReLU at inference. When
    /// nothing records gradients (float32, `residual` of the output's shape), one op: each
    /// chunk of images is normalized, added to and clamped while its convolution output is in
    /// cache (the same values as the ops in turn: the same kernels on the same numbers, ReLU's
    /// NaN → 0 for ReLU6 too). Otherwise the ops in turn, each differentiable.
    public func conv2d(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       normalizedBy normalization: BatchNormInference, adding residual: Tensor? = nil, fusedReLU: Bool = false,
                       reluMaxValue: Double? = nil) -> Tensor {
        let n = normalization
        let record = GradMode.records([self, kernel, bias, n.mean, n.variance, n.gamma, n.beta, residual])
        let geometry = rank == 4 && kernel.rank == 4 && !record && dtype == .float32 ? convGeometry(kernel, bias, strides, padding) : nil
        let outShape = geometry.map { [shape[0], $0.outH, $0.outW, kernel.shape[3]] }
        guard let geometry, reluMaxValue.map({ $0 >= 0 }) ?? true, residual.map({ $0.shape == outShape && $0.dtype == .float32 }) ?? true else {
            var y = Tensor.batchNormalizationInference(conv2d(kernel, bias: bias, strides: strides, padding: padding), mean: n.mean,
                                                       variance: n.variance, gamma: n.gamma, beta: n.beta, epsilon: n.epsilon)
            if let residual { y = residual + y }
            return fusedReLU ? y.relu(maxValue: reluMaxValue) : y
        }
        var epilogue = Kernels.ConvEpilogue(n, channels: kernel.shape[3], relu: fusedReLU, reluMaxValue: reluMaxValue)
        epilogue.residual = residual
        return Kernels.chunkedConv2d(self, kernel, bias, geometry, epilogue: epilogue, pool: nil)
    }
}

extension Tensor {
    /// Transposed convolution (the input-adjoint of `conv2d`), NHWC: kernel `[KH, KW, F, C]`
    /// (Keras's `Conv2DTranspose` layout — F output, C input channels), input `[N, H, W, C]`
    /// → `[N, OH, OW, F]`, where `outputSize` (OH, OW) is an image that `conv2d` with the same
    /// kernel, strides and padding would take to H × W. Computed as one GEMM (x·Kᵀ gives each
    /// input pixel's patch) and col2im; the backward pass unfolds the gradient with im2col:
    /// dInput = cols·K, dKernel = colsᵀ·x.
    public func conv2dTranspose(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                outputSize: (Int, Int)) -> Tensor {
        precondition(rank == 4 && kernel.rank == 4,
                     "conv2dTranspose: input \(shape) must be [N, H, W, C] and kernel \(kernel.shape) [KH, KW, F, C]")
        precondition(shape[3] == kernel.shape[3],
                     "conv2dTranspose: input \(shape) has \(shape[3]) channels, kernel \(kernel.shape) expects \(kernel.shape[3])")
        precondition(dtype == kernel.dtype, "conv2dTranspose: dtypes \(dtype) and \(kernel.dtype) differ")
        precondition(bias.map { $0.shape == [kernel.shape[2]] && $0.dtype == dtype } ?? true,
                     "conv2dTranspose: bias \(bias?.shape ?? []) must be [\(kernel.shape[2])] of \(dtype)")
        precondition(strides.0 > 0 && strides.1 > 0, "conv2dTranspose: strides \(strides) must be positive")
        let g = WindowGeometry(inH: outputSize.0, inW: outputSize.1, kH: kernel.shape[0], kW: kernel.shape[1],
                               strideH: strides.0, strideW: strides.1, padding: padding)
        precondition(g.outH == shape[1] && g.outW == shape[2],
                     "conv2dTranspose: output \(outputSize) does not convolve back to the input's \(shape[1])×\(shape[2])")
        let out = isFloat32("conv2dTranspose") ? conv2dTransposeImpl(Float.self, kernel, g) : conv2dTransposeImpl(Double.self, kernel, g)
        return bias.map { out + $0 } ?? out
    }

    private func conv2dTransposeImpl<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ g: WindowGeometry) -> Tensor {
        let (n, c, f) = (shape[0], shape[3], kernel.shape[2])
        let rows = n * g.outH * g.outW, k = g.kH * g.kW * f
        let x = detached().reshaped(to: [rows, c]), w = kernel.detached().reshaped(to: [k, c])
        let cols = Kernels.matmul(x, w, transB: true)
        var out = Tensor.zeros([n, g.inH, g.inW, f], dtype: T.dtype)
        cols.withUnsafeBuffer(as: T.self) { cb in
            out.withUnsafeMutableBuffer(as: T.self) { Kernels.col2im(cb, batch: n, channels: f, g, $0) }
        }
        return out.recorded("conv2dTranspose", inputs: [self, kernel]) { grad, needed in
            let gradCols = grad.withUnsafeBuffer(as: T.self) { gb in
                Tensor.build([rows, k], as: T.self) { Kernels.im2col(gb, batch: n, channels: f, g, $0) }
            }
            let dx = needed[0] ? Kernels.matmul(gradCols, w).reshaped(to: [n, g.outH, g.outW, c]) : nil
            let dw = needed[1] ? Kernels.matmul(gradCols, transA: true, x).reshaped(to: kernel.shape) : nil
            return [dx, dw]
        }
    }
}
