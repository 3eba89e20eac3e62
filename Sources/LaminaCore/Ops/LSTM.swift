extension Tensor {
    /// The LSTM recurrence with sigmoid gates and tanh cell activation (Keras's and
    /// PyTorch's defaults), as one op with a hand-written backward pass through time. This
    /// tensor holds the input projections `x_t·W + b` of all timesteps, time-major `[T, B, 4n]`,
    /// gates in Keras's order i, f, c (candidate), o.
    ///
    /// - Parameters:
    ///   - recurrentKernel: `U`, `[n, 4n]`.
    ///   - returnSequences: return every hidden state `[T, B, n]` (time-major) instead of
    ///     the last one `[B, n]`.
    ///   - mask: optional `[T, B]` 1/0 per step and sample (Keras's padding mask, time-major):
    ///     where 0 the step is skipped and the sample keeps its previous `h` and `c`.
    ///   - initialState: `h_0` and `c_0` `[B, n]` (zeros when nil); both get gradients.
    ///   - returnCell: append the last cell state `c_T` as one more row along axis 0: the
    ///     result is then `[T + 1, B, n]` (with `returnSequences`) or `[2, B, n]` (`h_T`, `c_T`).
    ///
    /// Per step: `z = xw_t + h·U`, `c = σ(z_f)·c + σ(z_i)·tanh(z_c)`, `h = σ(z_o)·tanh(c)`.
    /// The forward pass keeps the gates and cell states, so the backward pass is one GEMM per
    /// step for `dh` and a single GEMM for `dU` over all steps.
    public func lstmRecurrence(recurrentKernel: Tensor, returnSequences: Bool, mask: Tensor? = nil,
                               initialState: (h: Tensor, c: Tensor)? = nil, returnCell: Bool = false) -> Tensor {
        let u = recurrentKernel
        precondition(rank == 3 && shape[2] % 4 == 0, "lstmRecurrence: projections must be [T, B, 4n], got \(shape)")
        let n = shape[2] / 4
        precondition(u.shape == [n, 4 * n], "lstmRecurrence: recurrent kernel must be [\(n), \(4 * n)], got \(u.shape)")
        precondition(u.dtype == dtype, "lstmRecurrence: dtypes \(dtype) and \(u.dtype) differ")
        if let mask { precondition(mask.shape == [shape[0], shape[1]], "lstmRecurrence: mask must be [T, B], got \(mask.shape)") }
        if let s = initialState {
            precondition(s.h.shape == [shape[1], n] && s.c.shape == [shape[1], n], "lstmRecurrence: initial states must be [B, n]")
            precondition(s.h.dtype == dtype && s.c.dtype == dtype, "lstmRecurrence: initial states must be \(dtype)")
        }
        let options = LSTMOptions(returnSequences: returnSequences, returnCell: returnCell,
                                  mask: mask?.cast(to: dtype), initial: initialState)
        return isFloat32("lstmRecurrence")
            ? lstmImpl(Float.self, u, options, initialState) : lstmImpl(Double.self, u, options, initialState)
    }

    private func lstmImpl<T: FloatScalar>(_: T.Type, _ u: Tensor, _ o: LSTMOptions, _ initial: (h: Tensor, c: Tensor)?) -> Tensor {
        let (steps, batch, n) = (shape[0], shape[1], shape[2] / 4)
        let tape = Kernels.lstmForward(T.self, self, u, mask: o.mask, initial: o.initial)
        var parts = [o.returnSequences ? tape.hidden.sliced(axis: 0, 1..<(steps + 1))
                                       : tape.hidden.sliced(axis: 0, steps..<(steps + 1))]
        if o.returnCell { parts.append(tape.cells.sliced(axis: 0, steps..<(steps + 1))) }
        var output = parts.count == 1 ? parts[0] : Tensor.concatenated(parts, axis: 0)
        if !o.returnSequences && !o.returnCell { output = output.reshaped(to: [batch, n]) }
        let inputs = [self, u] + (initial.map { [$0.h, $0.c] } ?? [])
        return output.recorded("lstmRecurrence", inputs: inputs) { g, needed in
            let r = Kernels.lstmBackward(T.self, g, u, tape, o, needU: needed[1])
            var out: [Tensor?] = [needed[0] ? r.dxw : nil, r.du]
            if initial != nil { out += [r.dh0, r.dc0] }
            return out
        }
    }
}
