extension Tensor {
    /// Depthwise 2-D convolution in NHWC: each input channel convolved with its own
    /// `multiplier` filters. Keras: `ops.depthwise_conv` (the `DepthwiseConv2D` layer).
    ///
    /// Shapes: input `[N, H, W, C]`, kernel `[KH, KW, C, M]` (Keras's layout), bias `[C·M]`
    /// → `[N, OH, OW, C·M]`, output channel `c·M + m`. `dilation` spaces the kernel's taps;
    /// `.same` padding puts the odd pixel bottom/right (TensorFlow's rule). A direct loop
    /// kernel forward and backward (input, kernel and bias gradients), float32 and float64.
    ///
    /// `zeroPadding` (top, bottom, left, right) convolves the input as if that many zero rows
    /// and columns surrounded it — `padded(with:)` then a `.valid` convolution, as Keras's
    /// `ZeroPadding2D` + `DepthwiseConv2D` in MobileNets — without making the padded copy
    /// (which the backward pass would keep); it needs `.valid` `padding`.
    public func depthwiseConv2d(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                dilation: (Int, Int) = (1, 1),
                                zeroPadding: (top: Int, bottom: Int, left: Int, right: Int) = (0, 0, 0, 0)) -> Tensor {
        let d = depthwiseGeometry(kernel, bias, strides, padding, dilation, zeroPadding)
        return isFloat32("depthwiseConv2d") ? depthwiseImpl(Float.self, kernel, bias, d) : depthwiseImpl(Double.self, kernel, bias, d)
    }

    /// `depthwiseConv2d(kernel, …)`, then `batchNormalizationInference` with `normalization`,
    /// then (with `fusedReLU`) `relu(maxValue: reluMaxValue)` — MobileNets' DepthwiseConv2D →
    /// BatchNormalization → ReLU6 at inference. When nothing records gradients (float32), one
    /// op: each image's output is normalized and clamped right after it is computed, while in
    /// cache (the same values as the three ops: the same kernels on the same numbers, ReLU's
    /// NaN → 0 for the cap too). Otherwise the three ops in turn, each differentiable.
    public func depthwiseConv2d(_ kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                dilation: (Int, Int) = (1, 1), zeroPadding: (top: Int, bottom: Int, left: Int, right: Int) = (0, 0, 0, 0),
                                normalizedBy normalization: BatchNormInference, fusedReLU: Bool = false, reluMaxValue: Double? = nil) -> Tensor {
        let n = normalization
        guard !GradMode.records([self, kernel, bias, n.mean, n.variance, n.gamma, n.beta]), dtype == .float32, count > 0, kernel.count > 0, reluMaxValue.map({ $0 >= 0 }) ?? true else {
            let y = Tensor.batchNormalizationInference(
                depthwiseConv2d(kernel, bias: bias, strides: strides, padding: padding, dilation: dilation, zeroPadding: zeroPadding),
                mean: n.mean, variance: n.variance, gamma: n.gamma, beta: n.beta, epsilon: n.epsilon)
            return fusedReLU ? y.relu(maxValue: reluMaxValue) : y
        }
        let d = depthwiseGeometry(kernel, bias, strides, padding, dilation, zeroPadding)
        return Kernels.depthwiseConv(Float.self, self, kernel, bias: bias, d,
                                     epilogue: Kernels.ConvEpilogue(n, channels: d.outChannels, relu: fusedReLU, reluMaxValue: reluMaxValue))
    }

    /// Checks a depthwise convolution's operands; returns its geometry.
    private func depthwiseGeometry(_ kernel: Tensor, _ bias: Tensor?, _ strides: (Int, Int), _ padding: Padding, _ dilation: (Int, Int),
                                   _ zeroPadding: (top: Int, bottom: Int, left: Int, right: Int)) -> DepthwiseGeometry {
        precondition(rank == 4 && kernel.rank == 4,
                     "depthwiseConv2d: input \(shape) must be [N, H, W, C] and kernel \(kernel.shape) [KH, KW, C, M]")
        precondition(shape[3] == kernel.shape[2],
                     "depthwiseConv2d: input \(shape) has \(shape[3]) channels, kernel \(kernel.shape) expects \(kernel.shape[2])")
        precondition(dtype == kernel.dtype, "depthwiseConv2d: dtypes \(dtype) and \(kernel.dtype) differ")
        let outChannels = kernel.shape[2] * kernel.shape[3]
        precondition(bias.map { $0.shape == [outChannels] && $0.dtype == dtype } ?? true,
                     "depthwiseConv2d: bias \(bias?.shape ?? []) must be [\(outChannels)] of \(dtype)")
        precondition(strides.0 > 0 && strides.1 > 0 && dilation.0 > 0 && dilation.1 > 0,
                     "depthwiseConv2d: strides \(strides) and dilation \(dilation) must be positive")
        let zp = zeroPadding
        precondition(Swift.min(zp.top, zp.bottom, zp.left, zp.right) >= 0, "depthwiseConv2d: zeroPadding \(zp) must not be negative")
        precondition(zp == (0, 0, 0, 0) || padding.kind == .valid, "depthwiseConv2d: zeroPadding needs .valid padding, got \(padding)")
        let (kh, kw) = (kernel.shape[0], kernel.shape[1])
        let (windowH, windowW) = ((kh - 1) * dilation.0 + 1, (kw - 1) * dilation.1 + 1)
        let window = zp == (0, 0, 0, 0)
            ? WindowGeometry(inH: shape[1], inW: shape[2], kH: windowH, kW: windowW, strideH: strides.0, strideW: strides.1, padding: padding)
            : WindowGeometry(inH: shape[1], inW: shape[2], kH: windowH, kW: windowW, strideH: strides.0, strideW: strides.1, zeroPadding: zp)
        precondition(window.outH > 0 && window.outW > 0,
                     "depthwiseConv2d: input \(shape) is smaller than kernel \(kernel.shape) (dilation \(dilation)) with padding \(padding)")
        return DepthwiseGeometry(window: window, kH: kh, kW: kw, dilationH: dilation.0, dilationW: dilation.1,
                                 channels: kernel.shape[2], multiplier: kernel.shape[3])
    }

    private func depthwiseImpl<T: FloatScalar>(_: T.Type, _ kernel: Tensor, _ bias: Tensor?, _ d: DepthwiseGeometry) -> Tensor {
        let x = detached(), w = kernel.detached(), inputShape = shape, oc = d.outChannels
        if x.count == 0 || w.count == 0 {  // an empty batch (or no channels): nothing to convolve
            let outShape = [shape[0], d.window.outH, d.window.outW, oc], kernelShape = kernel.shape
            let out = bias.map { Tensor.zeros(outShape, dtype: T.dtype) + $0.detached() } ?? Tensor.zeros(outShape, dtype: T.dtype)
            return out.recorded("depthwiseConv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
                [needed[0] ? Tensor.zeros(inputShape, dtype: T.dtype) : nil, needed[1] ? Tensor.zeros(kernelShape, dtype: T.dtype) : nil]
                    + (needed.count > 2 ? [needed[2] ? grad.reshaped(to: [grad.count / Swift.max(oc, 1), oc]).sum(axes: [0]) : nil] : [])
            }
        }
        let out = Kernels.depthwiseConv(T.self, x, w, bias: bias?.detached(), d)
        return out.recorded("depthwiseConv2d", inputs: [self, kernel] + (bias.map { [$0] } ?? [])) { grad, needed in
            let dx = needed[0] ? Kernels.depthwiseConvInputGradient(T.self, grad, w, inputShape: inputShape, d) : nil
            let dw = needed[1] ? Kernels.depthwiseConvKernelGradient(T.self, x, grad, kernelShape: w.shape, d) : nil
            guard needed.count > 2 else { return [dx, dw] }
            return [dx, dw, needed[2] ? grad.reshaped(to: [grad.count / oc, oc]).sum(axes: [0]) : nil]
        }
    }
}
