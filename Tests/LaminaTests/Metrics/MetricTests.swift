import Testing
@testable import Lamina

@Suite struct MetricTests {
    @Test func accuracyResolvesByShapesLikeKeras() {
        let probs: Tensor = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]
        let sparse = Metric.accuracy
        sparse.update(Tensor([1, 1, 1] as [Int32]), probs)
        #expect(Swift.abs(sparse.result() - 2.0 / 3) < 1e-12)
        let categorical = Metric.accuracy
        categorical.update([[0, 1], [1, 0], [1, 0]], probs)
        #expect(Swift.abs(categorical.result() - 2.0 / 3) < 1e-12)
        let binary = Metric.accuracy
        binary.update([[1], [0], [0], [1]], [[0.7], [0.2], [0.6], [0.4]])
        #expect(binary.result() == 0.5)
    }

    @Test func precisionRecallAndErrors() {
        let yTrue: Tensor = [1, 0, 1, 1, 0], yPred: Tensor = [0.9, 0.8, 0.2, 0.7, 0.1]
        let p = Metric.precision, r = Metric.recall
        p.update(yTrue, yPred); r.update(yTrue, yPred)
        #expect(Swift.abs(p.result() - 2.0 / 3) < 1e-12 && Swift.abs(r.result() - 2.0 / 3) < 1e-12)
        let mae = Metric.mae
        mae.update([1, 2], [2, 4])
        #expect(mae.result() == 1.5)
        let mse = Metric.mse
        mse.update([1, 2], [2, 4])
        #expect(mse.result() == 2.5)
    }
}
