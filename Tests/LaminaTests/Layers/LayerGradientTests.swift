import Testing
import LaminaTestSupport
@testable import Lamina

/// Every layer through the whole layer contract (`layerTest`): shapes, weights, float64
/// gradient checks with respect to its input and its weights (recurrent layers through time
/// and BatchNormalization in training mode included), config round trip, save and load.
@Suite struct LayerGradientTests {
    /// Runs a fresh `layer` through `layerTest` for `inputShape` (batch first). `beforeCall`
    /// runs before each evaluation of the gradient check (to draw the same dropout masks
    /// every time).
    func check(_ layer: Layer, _ inputShape: [Int], training: Bool = false, seed: UInt64 = 1,
               beforeCall: () -> Void = {}, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try layerTest(layer, inputShape: inputShape, training: training, seed: seed, beforeCall: beforeCall,
                      sourceLocation: sourceLocation)
    }

    @Test func shapeAndScaleLayers() throws {
        try check(GlobalAveragePooling2D(), [2, 3, 4, 3])
        try check(GlobalAveragePooling2D(keepDims: true), [2, 3, 2, 2])
        try check(GlobalMaxPooling2D(), [2, 3, 4, 3])
        try check(RepeatVector(3), [2, 4])
        try check(Rescaling(0.5, offset: 0.25), [2, 3, 2])
        try check(ZeroPadding2D(padding: ((1, 2), (0, 1))), [2, 3, 2, 2])
        try check(Cropping2D(cropping: ((1, 0), (2, 1))), [2, 4, 5, 2])
    }
    @Test func layerNormalization() throws {
        try check(LayerNormalization(), [3, 5])
        try check(LayerNormalization(epsilon: 1e-5, scale: false), [2, 3, 4])
    }
    @Test func sequenceLayers() throws {
        try check(Conv1D(3, 3, activation: .tanh), [2, 7, 2])
        try check(Conv1D(2, kernelSize: 2, strides: 2, padding: .same), [2, 5, 3])
        try check(MaxPooling1D(poolSize: 2), [2, 6, 3])
        try check(AveragePooling1D(poolSize: 3, strides: 2, padding: .same), [2, 6, 2])
        try check(GlobalAveragePooling1D(), [2, 5, 3])
        try check(GlobalMaxPooling1D(keepDims: true), [2, 5, 3])
    }
    /// Embedding: the gradient with respect to its table (the indices are integers).
    @Test func embedding() throws {
        let layer = Embedding(inputDim: 6, outputDim: 3)
        try layer.buildIfNeeded([4], dtype: .float64)
        let indices = Tensor(shape: [2, 4], scalars: [0, 5, 2, 2, 1, 0, 4, 5] as [Double])
        let table = layer.trainableWeights[0]
        let result = GradientCheck.run(at: [randn([6, 3], seed: 3)]) { args in
            table.value = args[0]
            return try! layer(indices).tanh()
        }
        #expect(result.maxRelativeError <= 1e-6, "\(result)")
        let bad = #expect(throws: LaminaError.self) { _ = try layer(Tensor(shape: [1, 2], scalars: [1, 6] as [Double])) }
        #expect(bad?.message.contains("index 6.0 at position 1 is not in 0..<6") == true, "\(bad?.message ?? "")")
    }
    @Test func dense() throws {
        try check(Dense(3, activation: .tanh), [4, 5])
        try check(Dense(2, activation: .softmax), [2, 3, 4])   // rank-3: the last axis
    }
    @Test func conv2d() throws {
        try check(Conv2D(3, kernelSize: (3, 2), strides: (2, 1), padding: .same, activation: .sigmoid), [2, 5, 4, 2])
    }
    @Test func pooling() throws {
        try check(MaxPooling2D(poolSize: (3, 3), strides: (2, 2)), [2, 7, 6, 2])
        try check(AveragePooling2D(poolSize: (2, 3), strides: (1, 2), padding: .same), [2, 5, 5, 2])
    }
    @Test func batchNormalizationTrainingAndInference() throws {
        try check(BatchNormalization(), [6, 3], training: true)
        try check(BatchNormalization(), [3, 2, 2, 3], training: true)
        try check(BatchNormalization(), [4, 3], training: false)
    }
    @Test func recurrentThroughTime() throws {
        try check(SimpleRNN(3), [2, 5, 2])
        try check(SimpleRNN(2, returnSequences: true), [2, 4, 3])
        try check(LSTM(3), [2, 5, 2])
        try check(LSTM(2, returnSequences: true), [2, 4, 3])
    }
    @Test func transposedAndDilatedConvolutions() throws {
        try check(Conv2DTranspose(3, kernelSize: (3, 3), strides: (2, 2), padding: .same, activation: .tanh), [2, 3, 2, 2])
        try check(Conv2DTranspose(2, (3, 2), strides: (2, 3)), [2, 2, 3, 2])
        try check(Conv2D(2, kernelSize: 3, padding: .same, dilationRate: 2), [2, 6, 5, 2])
        try check(Conv1D(2, 2, dilationRate: 3), [2, 8, 2])
    }
    @Test func gruBackwardsAndBidirectional() throws {
        try check(GRU(3), [2, 4, 2])
        try check(GRU(2, returnSequences: true, resetAfter: false), [2, 3, 3])
        try check(GRU(2, goBackwards: true), [2, 4, 2])
        try check(LSTM(2, returnSequences: true, goBackwards: true), [2, 3, 2])
        try check(Bidirectional(LSTM(2, returnSequences: true)), [2, 3, 2])
        try check(Bidirectional(GRU(2), mergeMode: .mul), [2, 4, 3])
        try check(Bidirectional(SimpleRNN(2, returnSequences: true), mergeMode: .ave), [2, 3, 2])
    }
    /// Training with dropout and recurrent dropout, the masks redrawn identically before each evaluation.
    @Test func recurrentDropoutGradients() throws {
        for layer: Recurrent in [SimpleRNN(3, dropout: 0.3, recurrentDropout: 0.4, seed: 5), LSTM(2, dropout: 0.3, recurrentDropout: 0.4, seed: 5),
                                 GRU(2, dropout: 0.3, recurrentDropout: 0.4, seed: 5, returnSequences: true)] {
            try check(layer, [3, 4, 2], training: true, beforeCall: { layer.generator = RandomGenerator(seed: 5) })
        }
    }
    /// Keras's masks: one input mask per sequence (the same at every step), scaled by 1/(1 − rate);
    /// none at inference.
    @Test func recurrentInputDropoutIsOneMaskPerSequence() throws {
        for layer: Recurrent in [LSTM(3, dropout: 0.5, seed: 9, returnSequences: true), GRU(3, dropout: 0.5, seed: 9),
                                 SimpleRNN(3, dropout: 0.5, seed: 9, goBackwards: true)] {
            let x = randn([4, 5, 6], seed: 2)
            let trained = try layer(x, training: true)
            var generator: RandomGenerator? = RandomGenerator(seed: 9)
            let mask = dropoutMask([4, 1, 6], rate: 0.5, dtype: x.dtype, generator: &generator)
            expectClose(trained, try layer(x * mask), atol: 1e-4, rtol: 1e-4, "\(layer.name) training = inference on the masked input")
            #expect(Set(mask.asArray(Double.self)) == [0, 2])
            #expect(try layer(x).asArray(Double.self) != trained.asArray(Double.self))
        }
    }
    @Test func shapeAndActivationLayers() throws {
        try check(Flatten(), [2, 3, 2])
        try check(Reshape([2, -1]), [2, 6])
        try check(UpSampling2D(size: (2, 2)), [1, 2, 3, 2])
        try check(LeakyReLU(negativeSlope: 0.2), [3, 4])
        for a in ActivationFunction.Kind.allCases where a != .relu && a != .leakyRelu {
            try check(Activation(ActivationFunction(a)), [3, 4])
        }
    }
    @Test func dropoutIsIdentityAtInferenceAndScaledInTraining() throws {
        let d = Dropout(0.5, seed: 3)
        let x = Tensor.ones([1000])
        #expect(try d(x).asArray(Float.self) == x.asArray(Float.self))
        let y = try d(x, training: true).asArray(Float.self)
        #expect(Set(y) == [0, 2])
        let kept = y.filter { $0 > 0 }.count
        #expect(kept > 430 && kept < 570)
    }
    @Test func sequentialNestsLikeALayer() throws {
        try check(Sequential([Dense(3, activation: .relu), Sequential([Dense(2), Activation(.tanh)])]), [3, 4])
    }
}
