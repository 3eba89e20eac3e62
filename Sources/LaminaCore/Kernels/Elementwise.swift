/// A scalar function applied element by element, with its derivative written in terms of
/// the input `x` and the output `y` (whichever is cheaper).
public protocol PointwiseFunction: Sendable {
    func value<T: FloatScalar>(_ x: T) -> T
    func derivative<T: FloatScalar>(x: T, y: T) -> T
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
        guard x.isFloat32(op) else { return mapImpl(Double.self, x, f) }
        if f is ReluFn { return unaryFloat(x, simd.relu) }
        return mapImpl(Float.self, x, f)
    }

    private static func mapImpl<T: FloatScalar, F: PointwiseFunction>(_: T.Type, _ x: Tensor, _ f: F) -> Tensor {
        x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(x.shape, as: T.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    for i in r { out[i] = f.value(px[i]) }
                }
            }
        }
    }

    /// dx[i] = g[i] · f'(x[i], y[i]) — the fused backward of a pointwise op.
    static func mapGradient<F: PointwiseFunction>(_ g: Tensor, x: Tensor, y: Tensor, _ f: F) -> Tensor {
        guard g.isFloat32("backward") else { return mapGradImpl(Double.self, g, x, y, f) }
        if f is ReluFn { return binaryFloat(g, x, simd.relu_backward) }
        return mapGradImpl(Float.self, g, x, y, f)
    }

    private static func mapGradImpl<T: FloatScalar, F: PointwiseFunction>(
        _: T.Type, _ g: Tensor, _ x: Tensor, _ y: Tensor, _ f: F
    ) -> Tensor {
        g.withUnsafeBuffer(as: T.self) { pg in
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
        guard a.isFloat32(op) else { return binaryImpl(Double.self, a, b, shape, f) }
        if a.shape == b.shape {
            if f is AddFn { return binaryFloat(a, b, simd.add) }
            if f is MulFn { return binaryFloat(a, b, simd.mul) }
        }
        // A tensor and a one-element operand (a scalar, or [1, 1]) that broadcasts over it.
        if b.count == 1 && a.shape == shape, let op = scalarOp(f, scalarFirst: false) { return binaryScalarFloat(a, b, op, shape) }
        if a.count == 1 && b.shape == shape, let op = scalarOp(f, scalarFirst: true) { return binaryScalarFloat(b, a, op, shape) }
        return binaryImpl(Float.self, a, b, shape, f)
    }

    /// The `binary_scalar` kernel's op code for `f` with the scalar second (or first), nil for other functions.
    private static func scalarOp<F: BinaryFunction>(_ f: F, scalarFirst: Bool) -> Int32? {
        if f is AddFn { return 0 }
        if f is SubFn { return scalarFirst ? 2 : 1 }
        if f is MulFn { return 3 }
        if f is DivFn { return scalarFirst ? 5 : 4 }
        return nil
    }

    /// out = x op s over contiguous float32 (the one element of `s` broadcast), on the SIMD kernel.
    private static func binaryScalarFloat(_ x: Tensor, _ s: Tensor, _ op: Int32, _ shape: [Int]) -> Tensor {
        let scalar = s.withUnsafeBuffer(as: Float.self) { $0[0] }
        let kernel = simd.binary_scalar!
        return x.withUnsafeBuffer(as: Float.self) { px in
            Tensor.build(shape, as: Float.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    kernel(px.baseAddress! + r.lowerBound, scalar, out.baseAddress! + r.lowerBound, r.count, op)
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
