/// A scalar function applied element by element, with its derivative written in terms of
/// the input `x` and the output `y` (whichever is cheaper).
public protocol PointwiseFunction: Sendable {
    func value<T: FloatScalar>(_ x: T) -> T
    func derivative<T: FloatScalar>(x: T, y: T) -> T
    /// True where `derivative` gives the same from the output alone (called with x = y): the
    /// backward pass then keeps only the output, and the input (a BatchNormalization's output
    /// before a ReLU: a whole activation) is freed after the forward pass.
    var derivativeFromOutput: Bool { get }
}

extension PointwiseFunction {
    /// Most derivatives need the input.
    public var derivativeFromOutput: Bool { false }
}

/// A scalar function of two arguments, applied with NumPy broadcasting.
public protocol BinaryFunction {
    func value<T: FloatScalar>(_ a: T, _ b: T) -> T
}

extension Tensor {
    /// True for float32, false for float64; stops on int32 with a message naming `op`.
    @inlinable func isFloat32(_ op: String) -> Bool {
        precondition(dtype != .int32, "\(op): int32 tensors are not supported; cast(to: .float32) first")
        return dtype == .float32
    }
}

extension Kernels {
    /// y[i] = f(x[i]).
    static func map<F: PointwiseFunction>(_ x: Tensor, _ f: F, op: String) -> Tensor {
        x.isFloat32(op) ? mapImpl(Float.self, x, f) : mapImpl(Double.self, x, f)
    }

    private static func mapImpl<T: FloatScalar, F: PointwiseFunction>(_: T.Type, _ x: Tensor, _ f: F) -> Tensor {
        if f is ReluFn { return unary(T.self, x, CKernels<T>.relu) }
        return x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(x.shape, as: T.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    for i in r { out[i] = f.value(px[i]) }
                }
            }
        }
    }

    /// dx[i] = g[i] · f'(x[i], y[i]) — the fused backward of a pointwise op.
    static func mapGradient<F: PointwiseFunction>(_ g: Tensor, x: Tensor, y: Tensor, _ f: F) -> Tensor {
        g.isFloat32("backward") ? mapGradImpl(Float.self, g, x, y, f) : mapGradImpl(Double.self, g, x, y, f)
    }

    private static func mapGradImpl<T: FloatScalar, F: PointwiseFunction>(
        _: T.Type, _ g: Tensor, _ x: Tensor, _ y: Tensor, _ f: F
    ) -> Tensor {
        if f is ReluFn { return binary(T.self, g, x, CKernels<T>.reluBackward) }
        return g.withUnsafeBuffer(as: T.self) { pg in
            x.withUnsafeBuffer(as: T.self) { px in
                y.withUnsafeBuffer(as: T.self) { py in
                    Tensor.build(x.shape, as: T.self) { out in
                        parallelFor(pg.count, grain: parallelThreshold) { r in
                            for i in r { out[i] = pg[i] * f.derivative(x: px[i], y: py[i]) }
                        }
                    }
                }
            }
        }
    }

    /// out = f(a, b) over the broadcast of the two shapes.
    static func binary<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F, op: String) -> Tensor {
        precondition(a.dtype == b.dtype, "\(op): dtypes \(a.dtype) and \(b.dtype) differ")
        guard let shape = Shape.broadcast(a.shape, b.shape) else {
            preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        return a.isFloat32(op) ? binaryTyped(Float.self, a, b, shape, f) : binaryTyped(Double.self, a, b, shape, f)
    }

    /// The C kernels where they apply (same shapes; a one-element operand), else `binaryImpl`.
    private static func binaryTyped<T: FloatScalar, F: BinaryFunction>(_: T.Type, _ a: Tensor, _ b: Tensor, _ shape: [Int], _ f: F) -> Tensor {
        if a.shape == b.shape {
            if f is AddFn { return binary(T.self, a, b, CKernels<T>.add) }
            if f is MulFn { return binary(T.self, a, b, CKernels<T>.mul) }
        }
        // A tensor and a one-element operand (a scalar, or [1, 1]) that broadcasts over it.
        if b.count == 1 && a.shape == shape, let op = scalarOp(f, scalarFirst: false) { return binaryScalar(T.self, a, b, op, shape) }
        if a.count == 1 && b.shape == shape, let op = scalarOp(f, scalarFirst: true) { return binaryScalar(T.self, b, a, op, shape) }
        return binaryImpl(T.self, a, b, shape, f)
    }

    /// The `binary_scalar` kernel's op code for `f` with the scalar second (or first), nil for other functions.
    private static func scalarOp<F: BinaryFunction>(_ f: F, scalarFirst: Bool) -> Int32? {
        if f is AddFn { return 0 }
        if f is SubFn { return scalarFirst ? 2 : 1 }
        if f is MulFn { return 3 }
        if f is DivFn { return scalarFirst ? 5 : 4 }
        return nil
    }

    /// out = x op s over contiguous elements (the one element of `s` broadcast), on the C kernel.
    private static func binaryScalar<T: FloatScalar>(_: T.Type, _ x: Tensor, _ s: Tensor, _ op: Int32, _ shape: [Int]) -> Tensor {
        let scalar = s.withUnsafeBuffer(as: T.self) { $0[0] }
        return x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(shape, as: T.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    CKernels<T>.binaryScalar(px.baseAddress! + r.lowerBound, scalar, out.baseAddress! + r.lowerBound, r.count, op)
                }
            }
        }
    }

    private static func binaryImpl<T: FloatScalar, F: BinaryFunction>(
        _: T.Type, _ a: Tensor, _ b: Tensor, _ shape: [Int], _ f: F
    ) -> Tensor {
        a.withUnsafeBuffer(as: T.self) { pa in
            b.withUnsafeBuffer(as: T.self) { pb in
                Tensor.build(shape, as: T.self) { out in
                    let n = out.count
                    if a.shape == b.shape {
                        parallelFor(n, grain: parallelThreshold) { r in
                            for i in r { out[i] = f.value(pa[i], pb[i]) }
                        }
                    } else if b.count == 1 && a.count == n {
                        let s = pb[0]
                        parallelFor(n, grain: parallelThreshold) { r in
                            for i in r { out[i] = f.value(pa[i], s) }
                        }
                    } else if a.count == 1 && b.count == n {
                        let s = pa[0]
                        parallelFor(n, grain: parallelThreshold) { r in
                            for i in r { out[i] = f.value(s, pb[i]) }
                        }
                    } else if a.count == n && isTrailing(b.shape, of: shape) {
                        // Bias-style: b repeats along the leading dims of a.
                        let m = b.count
                        parallelFor(n / m, grain: max(1, parallelThreshold / m)) { rows in
                            for r in rows {
                                let base = r * m
                                for j in 0..<m { out[base + j] = f.value(pa[base + j], pb[j]) }
                            }
                        }
                    } else {
                        forEachRow(shape, a.shape, b.shape) { o, ia, sa, ib, sb, len in
                            for j in 0..<len { out[o + j] = f.value(pa[ia + j * sa], pb[ib + j * sb]) }
                        }
                    }
                }
            }
        }
    }

    /// Whether `small` (after dropping leading 1s) equals the trailing dims of `shape`.
    static func isTrailing(_ small: [Int], of shape: [Int]) -> Bool {
        let s = Array(small.drop(while: { $0 == 1 }))
        return s.count <= shape.count && Array(shape.suffix(s.count)) == s
    }

    /// Calls `body(outOffset, aOffset, aStride, bOffset, bStride, length)` for each row
    /// (last dimension) of the broadcast shape `shape`, with the operands' offsets.
    static func forEachRow(
        _ shape: [Int], _ aShape: [Int], _ bShape: [Int],
        _ body: (Int, Int, Int, Int, Int, Int) -> Void
    ) {
        if shape.isEmpty { body(0, 0, 0, 0, 0, 1); return }
        let sa = Shape.broadcastStrides(aShape, to: shape), sb = Shape.broadcastStrides(bShape, to: shape)
        let len = shape[shape.count - 1]
        forEachRow(shape, sa, sb) { row, ia, ib in body(row * len, ia, sa[shape.count - 1], ib, sb[shape.count - 1], len) }
    }
}
