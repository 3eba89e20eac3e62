extension Kernels {
    /// op(A)·op(B) for rank-2 operands, or batched over a leading dimension for rank 3.
    /// With `bias` ([n]), every output row starts from it (the GEMM accumulates onto it),
    /// which saves a separate broadcast add over the output.
    static func matmul(_ a: Tensor, transA: Bool = false, _ b: Tensor, transB: Bool = false, bias: Tensor? = nil) -> Tensor {
        a.isFloat32("matmul") ? matmulImpl(Float.self, a, transA, b, transB, bias) : matmulImpl(Double.self, a, transA, b, transB, bias)
    }

    private static func matmulImpl<T: FloatScalar>(_: T.Type, _ a: Tensor, _ transA: Bool,
                                                   _ b: Tensor, _ transB: Bool, _ bias: Tensor?) -> Tensor {
        let batch = a.rank == 3 ? a.shape[0] : 1
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transA ? (ac, ar) : (ar, ac)
        let n = transB ? br : bc
        let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
        return a.withUnsafeBuffer(as: T.self) { pa in
            b.withUnsafeBuffer(as: T.self) { pb in
                Tensor.build(outShape, as: T.self) { out in
                    guard let oa = pa.baseAddress, let ob = pb.baseAddress, let oc = out.baseAddress else { return }
                    if let bias { fillRows(out, with: bias, width: n) } else if k == 0 { out.initialize(repeating: 0) }
                    if k == 0 { return }
                    for i in 0..<batch {
                        gemm(transA: transA, transB: transB, m: m, n: n, k: k,
                             oa + i * ar * ac, lda: ac, ob + i * br * bc, ldb: bc,
                             beta: bias == nil ? 0 : 1, oc + i * m * n, ldc: n)
                    }
                }
            }
        }
    }
}

extension Kernels {
    /// Copies `bias` ([width]) into every row of `out`.
    static func fillRows<T: FloatScalar>(_ out: UnsafeMutableBufferPointer<T>, with bias: Tensor, width: Int) {
        precondition(bias.count == width && bias.dtype == T.dtype, "bias: \(bias.shape) does not fit rows of \(width)")
        bias.withUnsafeBuffer(as: T.self) { b in
            for row in stride(from: 0, to: out.count, by: width) {
                (out.baseAddress! + row).update(from: b.baseAddress!, count: width)
            }
        }
    }
}

extension Tensor {
    /// Matrix product through BLAS (sgemm/dgemm). Keras: `ops.matmul`.
    ///
    /// Shapes: `[m, k] x [k, n] -> [m, n]`; batched `[b, m, k] x [b, k, n] -> [b, m, n]`;
    /// and `[b, t, k] x [k, n] -> [b, t, n]` (a Dense layer applied to every timestep).
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(dtype == other.dtype, "matmul: dtypes \(dtype) and \(other.dtype) differ")
        precondition((rank == 2 || rank == 3) && (other.rank == 2 || other.rank == 3) && !(rank == 2 && other.rank == 3),
                     "matmul: \(shape) x \(other.shape): supported ranks are 2x2, 3x3 and 3x2")
        let inner = shape[rank - 1], otherInner = other.shape[other.rank - 2]
        precondition(inner == otherInner,
                     "matmul: \(shape) x \(other.shape): inner dimensions \(inner) and \(otherInner) differ")
        if rank == 3 && other.rank == 2 {
            let (b, t) = (shape[0], shape[1])
            return reshaped(to: [b * t, inner]).matmul(other).reshaped(to: [b, t, other.shape[1]])
        }
        if rank == 3 {
            precondition(shape[0] == other.shape[0], "matmul: \(shape) x \(other.shape): batch sizes differ")
        }
        let a = detached(), b = other.detached()
        return Kernels.matmul(a, b).recorded("matmul", inputs: [self, other]) { g, needed in
            [needed[0] ? Kernels.matmul(g, b, transB: true) : nil,
             needed[1] ? Kernels.matmul(a, transA: true, g) : nil]
        }
    }

    /// `matmul(weights) + bias` in one pass (a Dense layer): the GEMM accumulates onto rows
    /// that start from `bias` ([n]). Shapes `[m, k] x [k, n]` or `[b, t, k] x [k, n]`.
    public func matmul(_ weights: Tensor, bias: Tensor) -> Tensor {
        precondition(weights.rank == 2 && (rank == 2 || rank == 3), "matmul(_:bias:): \(shape) x \(weights.shape): supported ranks are 2x2 and 3x2")
        precondition(bias.shape == [weights.shape[1]] && bias.dtype == dtype,
                     "matmul(_:bias:): bias \(bias.shape) must be [\(weights.shape[1])] of \(dtype)")
        if rank == 3 {
            let (b, t) = (shape[0], shape[1])
            return reshaped(to: [b * t, shape[2]]).matmul(weights, bias: bias).reshaped(to: [b, t, weights.shape[1]])
        }
        precondition(dtype == weights.dtype && shape[1] == weights.shape[0],
                     "matmul: \(shape) x \(weights.shape): inner dimensions \(shape[1]) and \(weights.shape[0]) differ")
        let a = detached(), w = weights.detached()
        return Kernels.matmul(a, w, bias: bias.detached()).recorded("matmul", inputs: [self, weights, bias]) { g, needed in
            [needed[0] ? Kernels.matmul(g, w, transB: true) : nil,
             needed[1] ? Kernels.matmul(a, transA: true, g) : nil,
             needed[2] ? g.sum(axes: [0]) : nil]
        }
    }
}
