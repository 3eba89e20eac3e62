extension Tensor {
    /// The LSTM recurrence with sigmoid gates and tanh cell activation (Keras's and
    /// PyTorch's defaults), as one op with a hand-written backward pass through time.
    ///
    /// - Parameters:
    ///   - self: the input projections `x_t·W + b` of all timesteps, time-major `[T, B, 4n]`,
    ///     gates in Keras's order i, f, c (candidate), o.
    ///   - recurrentKernel: `U`, `[n, 4n]`.
    ///   - returnSequences: return every hidden state `[T, B, n]` (time-major) instead of
    ///     the last one `[B, n]`.
    ///
    /// Per step: `z = xw_t + h·U`, `c = σ(z_f)·c + σ(z_i)·tanh(z_c)`, `h = σ(z_o)·tanh(c)`,
    /// from `h = c = 0`. The forward pass keeps the gates and cell states, so the backward
    /// pass is one GEMM per step for `dh` and a single GEMM for `dU` over all steps.
    public func lstmRecurrence(recurrentKernel u: Tensor, returnSequences: Bool) -> Tensor {
        precondition(rank == 3 && shape[2] % 4 == 0, "lstmRecurrence: projections must be [T, B, 4n], got \(shape)")
        let n = shape[2] / 4
        precondition(u.shape == [n, 4 * n], "lstmRecurrence: recurrent kernel must be [\(n), \(4 * n)], got \(u.shape)")
        precondition(u.dtype == dtype, "lstmRecurrence: dtypes \(dtype) and \(u.dtype) differ")
        return isFloat32("lstmRecurrence")
            ? lstmImpl(Float.self, u, returnSequences) : lstmImpl(Double.self, u, returnSequences)
    }

    private func lstmImpl<T: FloatScalar>(_: T.Type, _ u: Tensor, _ returnSequences: Bool) -> Tensor {
        let (steps, batch, n) = (shape[0], shape[1], shape[2] / 4)
        let tape = Kernels.lstmForward(T.self, self, u)
        let output = returnSequences
            ? tape.hidden.sliced(axis: 0, 1..<(steps + 1))
            : tape.hidden.sliced(axis: 0, steps..<(steps + 1)).reshaped(to: [batch, n])
        return output.recorded("lstmRecurrence", inputs: [self, u]) { g, needed in
            let (dxw, du) = Kernels.lstmBackward(T.self, g, u, tape, returnSequences, needU: needed[1])
            return [needed[0] ? dxw : nil, du]
        }
    }
}
