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
        checkLSTMStates("lstmRecurrence", units: n, mask: mask, initialState: initialState)
        let options = LSTMOptions(returnSequences: returnSequences, returnCell: returnCell,
                                  mask: mask?.cast(to: dtype), initial: initialState)
        return isFloat32("lstmRecurrence")
            ? Tensor.lstmImpl(Float.self, .projected(self), u, options) : Tensor.lstmImpl(Double.self, .projected(self), u, options)
    }

    /// The whole LSTM layer as one op: `matmul(kernel, bias: bias).lstmRecurrence(…)` (the same
    /// options), from this tensor of inputs, time-major `[T, B, F]`. Each core projects its block
    /// of rows at each step straight into the gates (`x_t·W + b`, then `+ h·U`): no `[T, B, 4n]`
    /// projection tensor is written, read and copied. The backward pass adds `dW = Σ_t x_tᵀ·dz_t`,
    /// `db = Σ dz` and `dx = dz·Wᵀ` to the recurrence's.
    ///
    /// - Parameters:
    ///   - kernel: `W`, `[F, 4n]`, gates in Keras's order i, f, c, o.
    ///   - bias: `[4n]`, or nil.
    ///   - recurrentKernel: `U`, `[n, 4n]`.
    ///   - returnSequences: return every hidden state `[T, B, n]` (time-major) instead of
    ///     the last one `[B, n]`.
    ///   - mask: optional `[T, B]` 1/0 per step and sample; where 0 the sample keeps its state.
    ///   - initialState: `h_0` and `c_0` `[B, n]` (zeros when nil); both get gradients.
    ///   - returnCell: append the last cell state `c_T` along axis 0, as in ``lstmRecurrence(recurrentKernel:returnSequences:mask:initialState:returnCell:)``.
    public func lstm(kernel: Tensor, bias: Tensor?, recurrentKernel: Tensor, returnSequences: Bool, mask: Tensor? = nil,
                     initialState: (h: Tensor, c: Tensor)? = nil, returnCell: Bool = false) -> Tensor {
        let u = recurrentKernel, n = recurrentKernel.shape.first ?? 0
        precondition(rank == 3, "lstm: inputs must be [T, B, F], got \(shape)")
        precondition(u.shape == [n, 4 * n] && n > 0, "lstm: recurrent kernel must be [n, 4n], got \(u.shape)")
        precondition(kernel.shape == [shape[2], 4 * n], "lstm: kernel must be [\(shape[2]), \(4 * n)], got \(kernel.shape)")
        precondition(bias.map { $0.shape == [4 * n] } ?? true, "lstm: bias must be [\(4 * n)], got \(bias?.shape ?? [])")
        precondition([kernel, u, bias].allSatisfy { $0.map { $0.dtype == dtype } ?? true }, "lstm: the weights' dtypes must be \(dtype)")
        checkLSTMStates("lstm", units: n, mask: mask, initialState: initialState)
        let options = LSTMOptions(returnSequences: returnSequences, returnCell: returnCell,
                                  mask: mask?.cast(to: dtype), initial: initialState)
        let input = LSTMInput.inputs(x: self, kernel: kernel, bias: bias)
        return isFloat32("lstm") ? Tensor.lstmImpl(Float.self, input, u, options) : Tensor.lstmImpl(Double.self, input, u, options)
    }

    private func checkLSTMStates(_ op: String, units n: Int, mask: Tensor?, initialState: (h: Tensor, c: Tensor)?) {
        if let mask { precondition(mask.shape == [shape[0], shape[1]], "\(op): mask must be [T, B], got \(mask.shape)") }
        if let s = initialState {
            precondition(s.h.shape == [shape[1], n] && s.c.shape == [shape[1], n], "\(op): initial states must be [B, n]")
            precondition(s.h.dtype == dtype && s.c.dtype == dtype, "\(op): initial states must be \(dtype)")
        }
    }

    private static func lstmImpl<T: FloatScalar>(_: T.Type, _ input: LSTMInput, _ u: Tensor, _ o: LSTMOptions) -> Tensor {
        let (steps, batch, n) = (input.source.shape[0], input.source.shape[1], u.shape[0])
        let states = o.initial.map { [$0.h, $0.c] } ?? []
        // The recorded inputs: [xw, U, h_0, c_0] or [x, W, U, h_0, c_0, b], the optional ones last.
        let recordedInputs: [Tensor] = switch input {
        case .projected(let xw): [xw, u] + states
        case .inputs(let x, let w, let b): [x, w, u] + states + (b.map { [$0] } ?? [])
        }
        let tape = Kernels.lstmForward(T.self, input, u, mask: o.mask, initial: o.initial,
                                       keep: GradMode.records(recordedInputs))
        var parts = [o.returnSequences ? tape.hidden.sliced(axis: 0, 1..<(steps + 1))
                                       : tape.hidden.sliced(axis: 0, steps..<(steps + 1))]
        if o.returnCell { parts.append(tape.cells.sliced(axis: 0, steps..<(steps + 1))) }
        var output = parts.count == 1 ? parts[0] : Tensor.concatenated(parts, axis: 0)
        if !o.returnSequences && !o.returnCell { output = output.reshaped(to: [batch, n]) }
        switch input {
        case .projected:
            return output.recorded("lstmRecurrence", inputs: recordedInputs) { g, needed in
                // dU = Σ_t h_{t−1}ᵀ · dz_t: the hidden states h_0…h_{T−1} are the steps' operands.
                let r = Kernels.lstmBackward(T.self, g, u, tape, o, weightOperands: needed[1] ? tape.hidden : nil)
                return [needed[0] ? r.dxw : nil, r.dweights] + (states.isEmpty ? [] : [r.dh0, r.dc0])
            }
        case .inputs(let x, let w, let b):
            return output.recorded("lstm", inputs: recordedInputs) { g, needed in
                let needB = b != nil && needed[needed.count - 1]
                // [dU; dW; db] = Σ_t [h_{t-1} | x_t | 1]ᵀ · dz_t, summed inside the recurrence (none
                // when the weights are frozen).
                let r = Kernels.lstmBackward(T.self, g, u, tape, o,
                                             weightOperands: needed[1] || needed[2] || needB ? tape.operands : nil)
                let (features, k) = (x.shape[2], tape.operands!.shape[2])
                let dz = r.dxw.reshaped(to: [steps * batch, 4 * n])
                let dx = needed[0] ? Kernels.matmul(dz, w.detached(), transB: true).reshaped(to: x.shape) : nil
                let d = r.dweights
                let dw = needed[1] ? d?.sliced(axis: 0, n..<(n + features)) : nil
                let du = needed[2] ? d?.sliced(axis: 0, 0..<n) : nil
                let db = needB ? d?.sliced(axis: 0, (n + features)..<k).reshaped(to: [4 * n]) : nil
                return [dx, dw, du] + (states.isEmpty ? [] : [r.dh0, r.dc0]) + (b == nil ? [] : [db])
            }
        }
    }
}
