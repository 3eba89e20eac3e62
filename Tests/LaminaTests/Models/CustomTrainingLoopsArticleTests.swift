import Testing
import LaminaTestSupport
@testable import Lamina

// The code of Lamina.docc/CustomTrainingLoops.md, run on small data and checked against fit.

final class ArticleClassifier: Model {
    let dense1 = Dense(64, activation: .relu)
    let dense2 = Dense(64, activation: .relu)
    let logits = Dense(10)
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try logits(dense2(dense1(x, training: training), training: training), training: training)
    }
}

final class ArticleCustomModel: Model {
    let dense1 = Dense(32, activation: .relu)
    let dense2 = Dense(1)
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try dense2(dense1(x, training: training), training: training)
    }
    override func trainStep(_ batch: TrainingBatch) throws -> [String: Double] {
        var prediction = batch.x
        let (_, gradients) = try valueAndGradients(of: self) {
            prediction = try self(batch.x, training: true)
            return try computeLoss(y: batch.y, yPred: prediction, sampleWeight: batch.sampleWeight)
        }
        try applyGradients(gradients, to: trainableVariables)
        return try computeMetrics(y: batch.y, yPred: prediction)
    }
}

/// ArticleCustomModel with the compiled step.
final class ArticlePlainModel: Model {
    let dense1 = Dense(32, activation: .relu)
    let dense2 = Dense(1)
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try dense2(dense1(x, training: training), training: training)
    }
}

final class ArticleTrackedModel: Model {
    let dense = Dense(1)
    let lossTracker = Mean(name: "loss")
    override var metrics: [Metric] { [lossTracker] }
    override func call(_ x: Tensor, training: Bool) throws -> Tensor { try dense(x) }
    override func trainStep(_ batch: TrainingBatch) throws -> [String: Double] {
        let (loss, gradients) = try valueAndGradients(of: self) {
            let error = try self(batch.x, training: true) - batch.y
            return (error * error).mean()
        }
        try applyGradients(gradients, to: trainableVariables)
        lossTracker.updateState(loss)
        return ["loss": lossTracker.result()]
    }
}

@Suite struct CustomTrainingLoopsArticleTests {
    static let x = Tensor.randomNormal([32, 8], seed: 21)
    static let labels = Tensor(shape: [32], scalars: (0..<32).map { Int32(($0 * 3) % 10) })
    static let targets = Tensor.randomNormal([32, 1], seed: 22)
    static func batches(_ y: Tensor) -> [(Tensor, Tensor)] {
        stride(from: 0, to: 32, by: 8).map { (x.sliced(axis: 0, $0..<($0 + 8)), y.sliced(axis: 0, $0..<($0 + 8))) }
    }
    static func twins<M: Model>(_ make: () -> M) throws -> (M, M) {
        let (a, b) = (make(), make())
        _ = try a.predict(x)
        _ = try b.predict(x)
        try b.setWeights(a.getWeights())
        return (a, b)
    }

    @Test func trainingAndEvaluationLoopsMatchFit() throws {
        let (model, reference) = try Self.twins { ArticleClassifier() }
        let optimizer = Adam(learningRate: 1e-3)
        let lossFunction = SparseCategoricalCrossentropy(fromLogits: true)
        let trainAccuracy = SparseCategoricalAccuracy()
        let epochs = 2
        let batches = Self.batches(Self.labels), validationBatches = batches
        var accuracies: [Double] = []
        for epoch in 0..<epochs {
            for (step, (xBatch, yBatch)) in batches.enumerated() {
                var prediction = xBatch
                let (loss, gradients) = try valueAndGradients(of: model) {
                    let logits = try model(xBatch, training: true)
                    prediction = logits
                    return lossFunction(yBatch, logits)
                }
                try optimizer.apply(gradients, to: model.trainableVariables)
                if step % 100 == 0 { print("epoch \(epoch) step \(step): loss \(loss)") }
                trainAccuracy.update(yBatch, prediction.detached())
            }
            accuracies.append(trainAccuracy.result())
            trainAccuracy.reset()
        }
        let validationAccuracy = SparseCategoricalAccuracy()
        for (xBatch, yBatch) in validationBatches {
            let logits = try withoutGradients { try model(xBatch, training: false) }
            validationAccuracy.update(yBatch, logits)
        }

        reference.compile(optimizer: Adam(learningRate: 1e-3), loss: SparseCategoricalCrossentropy(fromLogits: true), metrics: [.sparseCategoricalAccuracy])
        let history = try reference.fit(Self.x, Self.labels, epochs: epochs, batchSize: 8, verbose: 0, shuffle: false)
        for (u, v) in zip(model.getWeights(), reference.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "article loop vs fit") }
        #expect(accuracies == history.history["sparse_categorical_accuracy"]!)
        let evaluated = try reference.evaluate(Self.x, Self.labels, batchSize: 8)
        #expect(Swift.abs(validationAccuracy.result() - evaluated.metrics["sparse_categorical_accuracy"]!) < 1e-12)
    }

    @Test func regularizationPenaltiesAsFitAddsThem() throws {
        let make = { Sequential([Dense(4, activation: .tanh, kernelRegularizer: .l2(0.1)), Dense(1)]) }
        let (model, reference) = try Self.twins(make)
        let optimizer = SGD(learningRate: 0.1), lossFunction = MeanSquaredError()
        for (xBatch, yBatch) in Self.batches(Self.targets) {
            let (_, gradients) = try valueAndGradients(of: model) {
                let dataLoss = lossFunction(yBatch, try model(xBatch, training: true))
                return model.losses.reduce(dataLoss, +)
            }
            try optimizer.apply(gradients, to: model.trainableVariables)
        }
        reference.compile(optimizer: SGD(learningRate: 0.1), loss: .meanSquaredError)
        try reference.fit(Self.x, Self.targets, epochs: 1, batchSize: 8, verbose: 0, shuffle: false)
        for (u, v) in zip(model.getWeights(), reference.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "penalties") }
    }

    @Test func customTrainStepsMatchTheCompiledStep() throws {
        let custom = ArticleCustomModel(), plain = ArticlePlainModel()
        _ = try custom.predict(Self.x)
        _ = try plain.predict(Self.x)
        try plain.setWeights(custom.getWeights())
        custom.compile(optimizer: .adam, loss: .meanSquaredError, metrics: [.meanAbsoluteError])
        plain.compile(optimizer: .adam, loss: .meanSquaredError, metrics: [.meanAbsoluteError])
        let h1 = try custom.fit(Self.x, Self.targets, epochs: 3, batchSize: 8, verbose: 0, shuffle: false)
        let h2 = try plain.fit(Self.x, Self.targets, epochs: 3, batchSize: 8, verbose: 0, shuffle: false)
        for (u, v) in zip(custom.getWeights(), plain.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "custom trainStep") }
        #expect(zip(h1.history["mean_absolute_error"]!, h2.history["mean_absolute_error"]!).allSatisfy { Swift.abs($0 - $1) < 1e-6 })

        // Its own Mean tracker, reset by fit each epoch: the epoch's loss is the mean of its batches' (equal sizes).
        let tracked = ArticleTrackedModel(), compiled = Sequential([Dense(1)])
        _ = try tracked.predict(Self.x)
        _ = try compiled.predict(Self.x)
        try compiled.setWeights(tracked.getWeights())
        tracked.compile(optimizer: SGD(learningRate: 0.05), loss: .meanSquaredError)
        compiled.compile(optimizer: SGD(learningRate: 0.05), loss: .meanSquaredError)
        let h3 = try tracked.fit(Self.x, Self.targets, epochs: 2, batchSize: 8, verbose: 0, shuffle: false)
        let h4 = try compiled.fit(Self.x, Self.targets, epochs: 2, batchSize: 8, verbose: 0, shuffle: false)
        #expect(zip(h3.history["loss"]!, h4.history["loss"]!).allSatisfy { Swift.abs($0 - $1) < 1e-6 }, "\(h3.history) \(h4.history)")
        expectClose(tracked.getWeights()[0], compiled.getWeights()[0], atol: 1e-6, rtol: 1e-6, "tracked")
    }
}
