import Foundation
import Testing
@testable import Lamina
@testable import LaminaData

struct Fixture: Decodable {
    struct T: Decodable {
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor { Tensor(shape: shape, scalars: values.map { Float($0) }) }
        var tensor64: Tensor { Tensor(shape: shape, scalars: values) }
    }
    struct LayerCase: Decodable {
        let name: String, training: Bool
        let input: T, weights: [T], output: T, probe: T, gradInput: T, gradWeights: [T], weightsAfter: [T]
    }
    struct LossCase: Decodable { let name: String; let yTrue: T, yPred: T; let loss: Double }
    struct TrainCase: Decodable {
        let name: String; let x: T, y: T; let initial: [T]; let losses: [Double]; let final: [T]
        let sampleWeight: T?; let classWeight: [String: Double]?
    }
    struct Count: Decodable { let total: Int, trainable: Int }
    let layers: [LayerCase], losses: [LossCase], training: [TrainCase]
    /// A merge layer on several inputs: forward and the gradient with respect to each input.
    struct MergeCase: Decodable { let name: String; let inputs: [T]; let output: T, probe: T; let gradInputs: [T] }
    let merges: [MergeCase]
    let paramCounts: [String: Count]
    struct MetricCase: Decodable { let name: String; let yTrue: T, yPred: T; let value: Double; let perClass: [Double]? }
    let metrics: [MetricCase]
    struct NormalizationCase: Decodable { let name: String; let data: T, input: T, output: T, mean: T, variance: T }
    let normalization: [NormalizationCase]
    struct AugmentationCase: Decodable { let name: String; let input: T, output: T }
    let augmentation: [AugmentationCase]
    struct PadOptions: Decodable { let maxlen: Int?; let padding: String?; let truncating: String?; let value: Int? }
    struct PadCase: Decodable { let options: PadOptions; let sequences: [[Int]]; let output: [[Int]] }
    let padSequences: [PadCase]

    static let keras: Fixture = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        url.appendPathComponent("Fixtures/keras_reference.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()
}

/// |a − b| ≤ atol + rtol·|b| elementwise, with the worst offender in the message.
func expectClose(_ a: Tensor, _ b: Tensor, atol: Double = 1e-4, rtol: Double = 1e-4, _ what: String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let x = a.scalarsAsDouble(), y = b.scalarsAsDouble()
    var worst = -1, excess = 0.0
    for i in x.indices {
        let e = Swift.abs(x[i] - y[i]) - (atol + rtol * Swift.abs(y[i]))
        if e > excess || x[i].isNaN { excess = Swift.max(e, 1e-30); worst = i }
    }
    #expect(worst < 0, "\(what): element \(worst) is \(worst >= 0 ? x[worst] : 0), expected \(worst >= 0 ? y[worst] : 0)",
            sourceLocation: sourceLocation)
}

/// The largest elementwise |a − b| (infinity when the shapes differ).
func maxDeviation(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? 0
}

/// Float64 normal values.
func randn(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
    Tensor.randomNormal(shape, stddev: scale, dtype: .float64, seed: seed)
}
