import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Every layer against Keras 3 (fixtures from Fixtures/generate_keras_fixtures.py): with the
/// same weights and input, the forward output and the gradients of sum(output · probe) with
/// respect to the input and each trainable weight agree within 1e-4 + 1e-4·|expected|.
@Suite struct KerasReferenceTests {
    static func makeLayer(_ name: String) -> Layer {
        switch name {
        case "dense": return Dense(4, activation: .tanh)
        case "dense_seq": return Dense(3, activation: .relu)
        case "conv2d_same_s2": return Conv2D(3, kernelSize: (3, 2), strides: (2, 2), padding: .same, activation: .relu)
        case "conv2d_valid": return Conv2D(4, kernelSize: 3, activation: .sigmoid)
        case "maxpool_overlap": return MaxPooling2D(poolSize: (3, 3), strides: (2, 2))
        case "maxpool_same": return MaxPooling2D(poolSize: (2, 2), padding: .same)
        case "avgpool_same": return AveragePooling2D(poolSize: (3, 3), strides: (2, 2), padding: .same)
        case "flatten": return Flatten()
        case "batchnorm_train", "batchnorm_infer": return BatchNormalization()
        case "batchnorm_conv_train": return BatchNormalization(momentum: 0.9)
        case "simple_rnn": return SimpleRNN(4)
        case "simple_rnn_seq": return SimpleRNN(3, returnSequences: true)
        case "lstm": return LSTM(4)
        case "lstm_seq": return LSTM(3, returnSequences: true)
        case "leaky_relu": return LeakyReLU()
        case "leaky_relu_02": return LeakyReLU(negativeSlope: 0.2)
        case "reshape": return Reshape([4, 3])
        case "upsampling": return UpSampling2D(size: (2, 3))
        case "global_average_pooling2d": return GlobalAveragePooling2D()
        case "global_average_pooling2d_keepdims": return GlobalAveragePooling2D(keepDims: true)
        case "global_max_pooling2d": return GlobalMaxPooling2D()
        case "repeat_vector": return RepeatVector(3)
        case "rescaling": return Rescaling(1.0 / 255, offset: -0.5)
        case "zero_padding2d": return ZeroPadding2D(padding: ((1, 2), (0, 1)))
        case "cropping2d": return Cropping2D(cropping: ((1, 0), (2, 1)))
        case "conv1d_valid": return Conv1D(3, 3, activation: .relu)
        case "conv1d_same_s2": return Conv1D(4, kernelSize: 2, strides: 2, padding: .same)
        case "maxpool1d": return MaxPooling1D(poolSize: 2)
        case "avgpool1d_same": return AveragePooling1D(poolSize: 3, strides: 2, padding: .same)
        case "global_average_pooling1d": return GlobalAveragePooling1D()
        case "global_max_pooling1d": return GlobalMaxPooling1D()
        case "embedding": return Embedding(inputDim: 7, outputDim: 3)
        case "layer_norm": return LayerNormalization()
        case "layer_norm_seq": return LayerNormalization(epsilon: 1e-5, center: false)
        case "conv2d_transpose_same_s2": return Conv2DTranspose(3, kernelSize: (3, 3), strides: (2, 2), padding: .same, activation: .relu)
        case "conv2d_transpose_valid": return Conv2DTranspose(2, (3, 1), strides: (2, 2))
        case "conv2d_transpose_same_s1": return Conv2DTranspose(2, (2, 3), padding: "same", useBias: false)
        case "conv2d_dilated": return Conv2D(3, kernelSize: 3, padding: "same", dilationRate: 2)
        case "conv2d_dilated_valid": return Conv2D(2, (2, 3), dilationRate: (3, 1), activation: .tanh)
        case "conv1d_dilated": return Conv1D(2, 3, dilationRate: 2)
        case "gru": return GRU(4)
        case "gru_seq": return GRU(3, returnSequences: true)
        case "gru_reset_before": return GRU(3, resetAfter: false)
        case "gru_backwards_seq": return GRU(2, returnSequences: true, goBackwards: true)
        case "lstm_backwards_seq": return LSTM(3, returnSequences: true, goBackwards: true)
        case "simple_rnn_backwards": return SimpleRNN(3, goBackwards: true)
        case "bidirectional_lstm_concat": return Bidirectional(LSTM(3, returnSequences: true))
        case "bidirectional_gru_sum": return Bidirectional(GRU(2), mergeMode: .sum)
        case "bidirectional_rnn_ave_seq": return Bidirectional(SimpleRNN(2, returnSequences: true), mergeMode: .ave)
        case "bidirectional_lstm_mul": return Bidirectional(LSTM(2), mergeMode: .mul)
        case "dense_mish": return Dense(3, activation: .mish)
        case "conv2d_hard_silu": return Conv2D(2, kernelSize: 3, activation: "hard_silu")
        case "relu_layer": return ReLU()
        case "relu_layer_max": return ReLU(maxValue: 1.5)
        case "relu_layer_slope": return ReLU(negativeSlope: 0.1)
        case "relu_layer_all": return ReLU(maxValue: 2.0, negativeSlope: 0.3, threshold: 0.5)
        case "depthwise_valid": return DepthwiseConv2D(kernelSize: 3)
        case "depthwise_same_s2_mult2":
            return DepthwiseConv2D(kernelSize: (3, 2), strides: (2, 2), padding: .same, depthMultiplier: 2, activation: .relu)
        case "depthwise_even_same_s2": return DepthwiseConv2D(kernelSize: 4, strides: 2, padding: .same, activation: .hardSilu)
        case "depthwise_dilated_nobias": return DepthwiseConv2D(kernelSize: 3, padding: .same, dilationRate: 2, useBias: false)
        case "depthwise_stride_dilation": return DepthwiseConv2D(kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 3, dilationRate: 2)
        case "separable_valid": return SeparableConv2D(4, kernelSize: 3)
        case "separable_same_s2_mult2":
            return SeparableConv2D(3, kernelSize: (3, 2), strides: (2, 2), padding: .same, depthMultiplier: 2, activation: .relu6)
        case "separable_dilated_nobias": return SeparableConv2D(2, kernelSize: 3, dilationRate: 2, useBias: false)
        case "batchnorm_no_center_train": return BatchNormalization(center: false)
        case "batchnorm_no_scale_infer": return BatchNormalization(scale: false)
        case "batchnorm_plain_conv_train": return BatchNormalization(center: false, scale: false)
        case "layer_scale": return LayerScale(initValues: 1e-6, projectionDim: 4)
        default:
            precondition(name.hasPrefix("activation_"), "no Lamina layer for fixture \(name)")
            return Activation(try! ActivationFunction(named: String(name.dropFirst("activation_".count))))
        }
    }

    @Test(arguments: Fixture.keras.layers.map(\.name))
    func layerMatchesKeras(_ name: String) throws {
        let c = Fixture.keras.layers.first { $0.name == name }!
        let layer = Self.makeLayer(name)
        try layer.buildIfNeeded(Array(c.input.shape.dropFirst()))
        try layer.setWeights(c.weights.map(\.tensor))
        var x = c.input.tensor
        x.requiresGrad = true
        let trainable = layer.trainableWeights
        for v in trainable { v.value.requiresGrad = true }
        let y = try layer(x, training: c.training)
        expectClose(y, c.output.tensor, atol: 1e-4, rtol: 1e-4, "\(name) output")
        let grads = (y * c.probe.tensor).sum().gradients(wrt: [x] + trainable.map(\.value))
        expectClose(grads[0], c.gradInput.tensor, atol: 1e-4, rtol: 1e-4, "\(name) d/dinput")
        #expect(grads.count - 1 == c.gradWeights.count)
        for (i, g) in c.gradWeights.enumerated() where i + 1 < grads.count {
            expectClose(grads[i + 1], g.tensor, atol: 1e-4, rtol: 1e-4, "\(name) d/d\(trainable[i].name)")
        }
        for (w, expected) in zip(layer.getWeights(), c.weightsAfter) { expectClose(w, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weights after call") }
        print("keras fixture \(name): max |Δ| output \(maxDeviation(y, c.output.tensor)), input gradient \(maxDeviation(grads[0], c.gradInput.tensor)), "
              + "weight gradients \(zip(grads.dropFirst(), c.gradWeights).map { maxDeviation($0, $1.tensor) }.max() ?? 0)")
    }

    static func makeMerge(_ name: String) -> MergeLayer {
        switch name {
        case "subtract": return Subtract()
        case "concatenate": return Concatenate()
        case "concatenate_axis1": return Concatenate(axis: 1)
        case "dot_2d", "dot_3d_11": return Dot(axes: 1)
        case "dot_2d_normalize": return Dot(axes: 1, normalize: true)
        case "dot_3d_22": return Dot(axes: (2, 2))
        case "dot_3d_12", "dot_2d_3d": return Dot(axes: (1, 2))
        case "dot_3d_2d": return Dot(axes: (2, 1))
        case "dot_3d_normalize": return Dot(axes: -1, normalize: true)
        default:
            let kind = name.split(separator: "_")[0]
            let types: [String: ElementwiseMerge.Type] = ["add": Add.self, "subtract": Subtract.self, "multiply": Multiply.self,
                                                          "average": Average.self, "maximum": Maximum.self, "minimum": Minimum.self]
            guard let type = types[String(kind)] else { preconditionFailure("no Lamina merge layer for fixture \(name)") }
            return type.init()
        }
    }

    /// Merge layers (broadcasting and rank-mismatched inputs included) and Dot: the forward
    /// output and the gradient with respect to each input.
    @Test(arguments: Fixture.keras.merges.map(\.name))
    func mergeMatchesKeras(_ name: String) throws {
        let c = try #require(Fixture.keras.merges.first { $0.name == name })
        let layer = Self.makeMerge(name)
        let xs = c.inputs.map { t -> Tensor in var x = t.tensor; x.requiresGrad = true; return x }
        let y = try layer(xs)
        expectClose(y, c.output.tensor, atol: 1e-4, rtol: 1e-4, "\(name) output")
        let grads = (y * c.probe.tensor).sum().gradients(wrt: xs)
        for (i, (g, expected)) in zip(grads, c.gradInputs).enumerated() { expectClose(g, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) d/dinput\(i)") }
        print("keras fixture \(name): max |Δ| output \(maxDeviation(y, c.output.tensor)), input gradients "
              + "\(zip(grads, c.gradInputs).map { maxDeviation($0, $1.tensor) }.max() ?? 0)")
    }

    @Test(arguments: Fixture.keras.losses.map(\.name))
    func lossMatchesKeras(_ name: String) throws {
        let c = Fixture.keras.losses.first { $0.name == name }!
        let fromLogits = name.hasSuffix("_logits")
        let loss: Loss
        switch name.replacingOccurrences(of: "_logits", with: "") {
        case "binary_crossentropy": loss = BinaryCrossentropy(fromLogits: fromLogits)
        case "categorical_crossentropy": loss = CategoricalCrossentropy(fromLogits: fromLogits)
        case "sparse_categorical_crossentropy": loss = SparseCategoricalCrossentropy(fromLogits: fromLogits)
        default: loss = try Loss.named(name)
        }
        let yTrue = name.hasPrefix("sparse") ? c.yTrue.tensor.cast(to: .int32) : c.yTrue.tensor
        try loss.validate(yTrue, c.yPred.tensor)
        let value = loss(yTrue, c.yPred.tensor).scalarsAsDouble()[0]
        #expect(Swift.abs(value - c.loss) <= 1e-4 + 1e-4 * Swift.abs(c.loss), "\(name): \(value) vs Keras \(c.loss)")
    }

    static func makeModel(_ name: String) -> (Sequential, Loss, Optimizer) {
        let optimizer: Optimizer = name.hasSuffix("sgd_momentum") ? SGD(learningRate: 0.1, momentum: 0.9)
            : name.hasSuffix("sgd_nesterov") ? SGD(learningRate: 0.05, momentum: 0.8, nesterov: true)
            : name.hasSuffix("_nadam") ? Nadam(learningRate: 0.01) : name.hasSuffix("_adamax") ? Adamax(learningRate: 0.02)
            : name.hasSuffix("_adadelta") ? Adadelta(learningRate: 1.0) : name.hasSuffix("_lion") ? Lion(learningRate: 0.003)
            : Adam(learningRate: 0.01)
        if name.hasPrefix("dense") {
            return (Sequential([Dense(4, activation: .relu, inputShape: [5]), Dense(2)]), .meanSquaredError, optimizer)
        }
        if name.hasPrefix("regularized") {
            return (Sequential([Dense(4, activation: .relu, kernelRegularizer: .l2(0.05), biasRegularizer: .l1(0.02), inputShape: [5]),
                                Dense(2, kernelRegularizer: .l1l2(l1: 0.01, l2: 0.03))]), .meanSquaredError, optimizer)
        }
        if name.hasPrefix("deconv_dilated") {
            return (Sequential([Conv2DTranspose(2, kernelSize: 3, strides: 2, padding: .same, activation: .relu, inputShape: [6, 6, 1]),
                                Conv2D(1, kernelSize: 3, dilationRate: 2), Flatten(), Dense(3, activation: .softmax)]),
                    .sparseCategoricalCrossentropy, optimizer)
        }
        if name.hasPrefix("bigru_regularized") {
            return (Sequential([Bidirectional(GRU(3, kernelRegularizer: .l1(0.01), recurrentRegularizer: .l2(0.05), returnSequences: true),
                                              inputShape: [5, 3]),
                                GlobalAveragePooling1D(), Dense(1, activation: .sigmoid)]), .binaryCrossentropy, optimizer)
        }
        if name.hasPrefix("conv_bn") {
            return (Sequential([Conv2D(2, kernelSize: 3, activation: .relu, inputShape: [6, 6, 1]), BatchNormalization(),
                                MaxPooling2D(), Flatten(), Dense(3, activation: .softmax)]), .sparseCategoricalCrossentropy, optimizer)
        }
        if name.hasPrefix("lstm") {
            return (Sequential([LSTM(3, inputShape: [5, 3]), Dense(1, activation: .sigmoid)]), .binaryCrossentropy, optimizer)
        }
        return (Sequential([SimpleRNN(4, inputShape: [5, 3]), BatchNormalization(), Dense(1, activation: .sigmoid)]),
                .binaryCrossentropy, optimizer)
    }

    /// Three optimizer steps give Keras's losses and weights (moving statistics included).
    @Test(arguments: Fixture.keras.training.map(\.name))
    func threeStepsMatchKeras(_ name: String) throws {
        let c = Fixture.keras.training.first { $0.name == name }!
        let (model, loss, optimizer) = Self.makeModel(name)
        try model.setWeights(c.initial.map(\.tensor))
        model.compile(optimizer: optimizer, loss: loss)
        let y = name.hasPrefix("conv_bn") || name.hasPrefix("deconv") ? c.y.tensor.cast(to: .int32) : c.y.tensor
        for (step, expected) in c.losses.enumerated() {
            let classWeight = c.classWeight.map { Dictionary(uniqueKeysWithValues: $0.map { (Int($0.key)!, $0.value) }) }
            let (l, _) = try model.trainOnBatch(c.x.tensor, y, sampleWeight: c.sampleWeight?.tensor, classWeight: classWeight)
            #expect(Swift.abs(Double(l) - expected) <= 1e-4 + 1e-4 * Swift.abs(expected), "\(name) step \(step): loss \(l) vs Keras \(expected)")
        }
        for (i, (w, expected)) in zip(model.getWeights(), c.final).enumerated() {
            expectClose(w, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weight \(i) (\(model.weights[i].name))")
        }
    }

    /// Metrics against Keras's on one batch (ties included).
    @Test(arguments: Fixture.keras.metrics.map(\.name))
    func metricMatchesKeras(_ name: String) throws {
        let c = Fixture.keras.metrics.first { $0.name == name }!
        let metric: Metric
        switch name {
        case "auc_roc": metric = AUC()
        case "auc_pr": metric = AUC(curve: .pr)
        case "auc_roc_minoring_50": metric = AUC(numThresholds: 50, summationMethod: .minoring)
        case "auc_pr_majoring": metric = AUC(curve: .pr, summationMethod: .majoring)
        case "f1_macro", "f1_per_class": metric = F1Score(average: .macro)
        case "f1_micro": metric = F1Score(average: .micro)
        case "f1_weighted_threshold": metric = F1Score(average: .weighted, threshold: 0.6)
        case "fbeta2_macro": metric = FBetaScore(average: .macro, beta: 2)
        default:
            let k = Int(name.split(separator: "k").last!)!
            metric = name.hasPrefix("sparse") ? SparseTopKCategoricalAccuracy(k: k) : TopKCategoricalAccuracy(k: k)
        }
        let yTrue = name.hasPrefix("sparse") ? c.yTrue.tensor.cast(to: .int32) : c.yTrue.tensor
        if name.hasPrefix("auc") || (name.hasPrefix("f") && name != "f1_per_class") {   // two batches, as the fixture
            let half = yTrue.shape[0] / 2
            metric.update(yTrue.sliced(axis: 0, 0..<half), c.yPred.tensor.sliced(axis: 0, 0..<half))
            metric.update(yTrue.sliced(axis: 0, half..<yTrue.shape[0]), c.yPred.tensor.sliced(axis: 0, half..<yTrue.shape[0]))
        } else {
            metric.update(yTrue, c.yPred.tensor)
        }
        #expect(Swift.abs(metric.result() - c.value) < 1e-6, "\(name): \(metric.result()) vs Keras \(c.value)")
        if let perClass = c.perClass, let f = metric as? FBetaScore {
            #expect(zip(f.perClass(), perClass).allSatisfy { Swift.abs($0 - $1) < 1e-6 }, "\(name): \(f.perClass()) vs Keras \(perClass)")
        }
        // The metric's options come back from its compile-config entry.
        let back = try Metric.fromConfig(try metric.serialize())
        #expect(type(of: back) == type(of: metric) && back.name == metric.name)
        #expect(NSDictionary(dictionary: back.config()) == NSDictionary(dictionary: metric.config()))
    }
}
