extension Tensor {
    /// Max pooling over NHWC windows. Keras: `MaxPooling2D`; strides default to the pool size.
    /// The gradient goes to the (first) maximal element of each window.
    public func maxPool2d(poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        let g = poolGeometry("maxPool2d", poolSize, strides, padding)
        let (out, argmax) = Kernels.maxPool(self, g, argmax: GradMode.records([self]))
        let inputShape = shape
        return out.recorded("maxPool2d", inputs: [self]) { grad, _ in
            [Kernels.maxPoolBackward(grad, argmax: argmax, inputShape: inputShape, g)]
        }
    }

    /// Average pooling over NHWC windows. With `.same` padding the padded positions are not
    /// counted (TensorFlow's rule).
    public func avgPool2d(poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        let g = poolGeometry("avgPool2d", poolSize, strides, padding)
        let inputShape = shape
        return Kernels.avgPool(self, g).recorded("avgPool2d", inputs: [self]) { grad, _ in
            [Kernels.avgPoolBackward(grad, inputShape: inputShape, g)]
        }
    }

    private func poolGeometry(_ op: String, _ pool: (Int, Int), _ strides: (Int, Int)?, _ padding: Padding) -> WindowGeometry {
        precondition(rank == 4, "\(op): input \(shape) must be [N, H, W, C]")
        _ = isFloat32(op)
        let s = strides ?? pool
        precondition(pool.0 > 0 && pool.1 > 0 && s.0 > 0 && s.1 > 0, "\(op): pool size \(pool) and strides \(s) must be positive")
        let g = WindowGeometry(inH: shape[1], inW: shape[2], kH: pool.0, kW: pool.1,
                               strideH: s.0, strideW: s.1, padding: padding)
        precondition(g.outH > 0 && g.outW > 0, "\(op): input \(shape) is smaller than the pool \(pool)")
        return g
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
