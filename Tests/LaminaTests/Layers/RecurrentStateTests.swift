import Testing
import LaminaTestSupport
@testable import Lamina

/// Float64 gradient checks of the masked recurrent paths (every layer, forwards and backwards,
/// with and without sequences and initial states), the masked outputs' closed forms, and the
/// errors a wrong mask or initial state gives.
@Suite struct RecurrentStateTests {
    /// A [batch = 3, steps = 4] mask: post-padding, pre-padding with a gap, all skipped.
    static let mask = Tensor(shape: [3, 4], scalars: [1, 1, 0, 0,  0, 1, 0, 1,  0, 0, 0, 0] as [Double])

    static func layers() -> [Recurrent] {
        [SimpleRNN(3, returnSequences: true), SimpleRNN(3, goBackwards: true), LSTM(3, returnSequences: true, goBackwards: true),
         LSTM(3), LSTM(3, recurrentActivation: .hardSigmoid, returnSequences: true), GRU(3, returnSequences: true),
         GRU(3, goBackwards: true, resetAfter: false)]
    }

    @Test(arguments: 0..<7) func maskedGradients(_ which: Int) throws {
        for withState in [false, true] {
            let layer = Self.layers()[which]
            try layer.buildIfNeeded([4, 2], dtype: .float64)
            try layer.setWeights(layer.getWeights().enumerated().map { i, w in randn(w.shape, seed: UInt64(40 + i), scale: 0.6) })
            let weights = layer.trainableWeights, k = layer.stateCount
            let x = randn([3, 4, 2], seed: 3)
            let states = (0..<k).map { randn([3, 3], seed: UInt64(50 + $0)) }
            let inputs = [x] + (withState ? states : []) + weights.map(\.value)
            let result = GradientCheck.run(at: inputs) { args in
                for (v, a) in zip(weights, args.suffix(weights.count)) { v.value = a }
                let initial = withState ? Array(args[1...k]) : nil
                let out = try! layer.forward(args[0], mask: Self.mask, initialState: initial, training: false)
                return Tensor.concatenated(out.map { $0.reshaped(to: [3, -1]) }, axis: 1)
            }
            #expect(result.maxRelativeError <= 1e-6, "\(layer.name) initial state \(withState): \(result)")
        }
    }

    /// Keras's masked outputs: a skipped step repeats the previous output (zeros before the first
    /// kept step, even from an initial state); the states carry over; all-skipped samples keep h_0.
    @Test func maskedOutputsAndStates() throws {
        let layer = GRU(3, returnSequences: true)
        let x = randn([3, 4, 2], seed: 5).cast(to: .float32)
        let h0 = randn([3, 3], seed: 6).cast(to: .float32)
        _ = try layer(x)
        let out = try layer.forward(x, mask: Self.mask, initialState: [h0], training: false)
        let y = out[0].asArray(Float.self), h = out[1].asArray(Float.self), h0s = h0.asArray(Float.self)
        func row(_ b: Int, _ t: Int) -> [Float] { Array(y[(b * 4 + t) * 3..<(b * 4 + t + 1) * 3]) }
        #expect(row(0, 2) == row(0, 1) && row(0, 3) == row(0, 1))   // post-padding repeats the last output
        #expect(row(1, 0) == [0, 0, 0] && row(1, 2) == row(1, 1))    // before the first kept step: zeros
        #expect(row(2, 3) == [0, 0, 0])                               // nothing kept: zeros ...
        #expect(Array(h[6..<9]) == Array(h0s[6..<9]))                 // ... and the state is h_0
        #expect(Array(h[0..<3]) == row(0, 1))                         // the final state is the last kept step's
        // Without initial states the masked output equals the eager masked call.
        var xm = x
        xm.kerasMask = Self.mask.cast(to: .float32)
        let eager = try layer(xm)
        expectClose(eager, try layer.forward(x, mask: Self.mask, initialState: nil, training: false)[0], atol: 0, rtol: 1e-4)
        #expect(eager.kerasMask != nil)
        // A Bidirectional layer zeros masked steps of returned sequences in both directions.
        let bi = Bidirectional(LSTM(2, returnSequences: true))
        let z = try bi(xm).asArray(Float.self)
        #expect(Array(z[(0 * 4 + 3) * 4..<(0 * 4 + 4) * 4]) == [0, 0, 0, 0])
        #expect(Array(z[(2 * 4) * 4..<(3 * 4) * 4]).allSatisfy { $0 == 0 })
        #expect(bi.forwardLayer.zeroOutputForMask && bi.backwardLayer.zeroOutputForMask)
    }

    /// Bidirectional with a mask and initial states in both directions: float64 gradients, and
    /// its eager outputs are the two layers' own.
    @Test func bidirectionalMaskedGradientsAndStates() throws {
        let bi = Bidirectional(GRU(3, returnSequences: true, returnState: true), mergeMode: .ave)
        try bi.buildIfNeeded([4, 2], dtype: .float64)
        try bi.setWeights(bi.getWeights().enumerated().map { i, w in randn(w.shape, seed: UInt64(60 + i), scale: 0.6) })
        let weights = bi.trainableWeights
        let x = randn([3, 4, 2], seed: 9), h = randn([3, 3], seed: 10), hb = randn([3, 3], seed: 11)
        let result = GradientCheck.run(at: [x, h, hb] + weights.map(\.value)) { args in
            for (v, a) in zip(weights, args.suffix(weights.count)) { v.value = a }
            let out = try! bi.run(args[0], mask: Self.mask, initialState: [args[1], args[2]], training: false)
            return Tensor.concatenated(out.map { $0.reshaped(to: [3, -1]) }, axis: 1)
        }
        #expect(result.maxRelativeError <= 1e-6, "\(result)")
        let outs = try bi(x, initialState: [h, hb])
        #expect(outs.map(\.shape) == [[3, 4, 3], [3, 3], [3, 3]])
        let forward = try bi.forwardLayer.forward(x, mask: nil, initialState: [h], training: false)
        expectClose(outs[1], forward[1], atol: 0, rtol: 1e-4)
        #expect(throws: LaminaError.self) { try bi(x, initialState: [h]) }
    }

    @Test func returnStateEagerlyAndErrors() throws {
        let lstm = LSTM(3, returnSequences: true, returnState: true)
        let x = randn([2, 4, 2], seed: 7).cast(to: .float32)
        let outs = try lstm.callAll([x], training: false)
        #expect(outs.map(\.shape) == [[2, 4, 3], [2, 3], [2, 3]])
        expectClose(outs[1], outs[0].sliced(axis: 1, 3..<4).reshaped(to: [2, 3]), atol: 0, rtol: 1e-4)
        #expect(try lstm(x).shape == [2, 4, 3])   // a plain call gives the output alone
        // From the final states, the second half of a sequence continues the first.
        let whole = try lstm(x, initialState: [])
        let first = try lstm.callAll([x.sliced(axis: 1, 0..<2)], training: false)
        let second = try lstm(x.sliced(axis: 1, 2..<4), initialState: [first[1], first[2]])
        expectClose(second[0], whole[0].sliced(axis: 1, 2..<4), atol: 1e-6, rtol: 1e-4)
        // Wrong initial states and masks are errors.
        #expect(throws: LaminaError.self) { try lstm(x, initialState: [first[1]]) }
        #expect(throws: LaminaError.self) { try lstm(x, initialState: [first[1], randn([2, 4], seed: 1).cast(to: .float32)]) }
        var bad = x
        bad.kerasMask = Tensor.ones([2, 3])
        #expect(throws: LaminaError.self) { try lstm(bad) }
        #expect(throws: LaminaError.self) { try lstm(Tensor.zeros([2, 0, 2])) }
        let input = Input(shape: [4, 2]), h = Input(shape: [5])
        #expect(Model(inputs: [input, h], outputs: GRU(3)(input, initialState: [h])).definitionError != nil)
    }

    @Test func configsKeepReturnState() throws {
        for layer in [SimpleRNN(2, returnState: true), LSTM(2, returnState: true), GRU(2, returnState: true)] as [Recurrent] {
            let copy = try LayerRegistry.make(try layer.serialize()) as? Recurrent
            #expect(copy?.returnState == true)
            #expect((try layer.config())["return_state"] as? Bool == true)
        }
        let bi = Bidirectional(LSTM(2, returnState: true))
        let copy = try LayerRegistry.make(try bi.serialize()) as? Bidirectional
        #expect(copy?.returnState == true)
        let x = Input(shape: [3, 2])
        let outs = bi.callAll(x)
        #expect(outs.map(\.shape) == [[4], [2], [2], [2], [2]])
    }
}

/// TimeDistributed and Permute: float64 gradient checks, masks (TimeDistributed passes the mask
/// on, Permute and Flatten end it, as Keras 3), configs and errors.
@Suite struct TimeDistributedTests {
    @Test func gradients() throws {
        try layerTest(TimeDistributed(Dense(3, activation: .tanh)), inputShape: [2, 4, 5])
        try layerTest(TimeDistributed(Conv2D(2, kernelSize: (2, 2))), inputShape: [2, 3, 4, 4, 2])
        try checkLayerGradients(Permute([3, 1, 2]), [2, 3, 4, 2])
    }

    @Test func masksAndShapes() throws {
        var x = randn([2, 3, 4], seed: 8).cast(to: .float32)
        x.kerasMask = Tensor(shape: [2, 3], scalars: [1, 1, 0, 1, 0, 0] as [Float])
        let td = TimeDistributed(Dense(2))
        let y = try td(x)
        #expect(y.shape == [2, 3, 2])
        #expect(y.kerasMask?.asArray(Float.self) == [1, 1, 0, 1, 0, 0])
        // The same as the wrapped layer on each step.
        let step1 = try td.layer(x.sliced(axis: 1, 1..<2).reshaped(to: [2, 4]))
        expectClose(y.sliced(axis: 1, 1..<2).reshaped(to: [2, 2]), step1, atol: 1e-6, rtol: 1e-4)
        #expect(try Permute([2, 1])(x).kerasMask == nil)
        #expect(try Permute([2, 1])(x).shape == [2, 4, 3])
        #expect(try Flatten()(x).kerasMask == nil)
        #expect(td.countParams() == 10 && td.weights.count == 2)
        #expect(td.kerasWeightPaths == ["layer/vars/0", "layer/vars/1"])
        // Errors: a bad permutation, a mask that does not fit, too few axes.
        #expect(throws: LaminaError.self) { try Permute([1, 1])(x) }
        #expect(throws: LaminaError.self) { try Permute([2, 1, 3])(x) }
        var bad = x
        bad.kerasMask = Tensor.ones([2, 4])
        #expect(throws: LaminaError.self) { try td(bad) }
        #expect(throws: LaminaError.self) { try TimeDistributed(Dense(2))(randn([2, 3], seed: 1)) }
    }

    @Test func configsRoundTrip() throws {
        let td = TimeDistributed(Conv2D(4, kernelSize: (3, 3), name: "conv"), name: "td")
        let object = try td.serialize()
        let copy = try #require(try LayerRegistry.make(object) as? TimeDistributed)
        #expect(copy.layer is Conv2D && copy.layer.name == "conv")
        #expect(try copy.weightShapes(for: [5, 8, 8, 3]) == [[3, 3, 3, 4], [4]])
        let p = try #require(try LayerRegistry.make(try Permute([2, 1]).serialize()) as? Permute)
        #expect(p.dims == [2, 1])
    }
}
