import Foundation
import LaminaCore

/// `Tests/LaminaTests/Fixtures`: the Keras, PyTorch and NumPy references with the scripts that
/// made them.
package let laminaFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("LaminaTests/Fixtures")

/// `Tests/LaminaTests/Fixtures/data`: NumPy, CSV and safetensors files.
package let dataFixtures = laminaFixtures.appendingPathComponent("data")

/// The real MNIST beside the repository (`../shared/data/mnist`), or `$LAMINA_DATA`, when
/// `isComplete` finds all its files there.
package func sharedMNISTFolder(where isComplete: (URL) -> Bool) -> URL? {
    var candidates = [URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/data/mnist").standardized]
    if let env = ProcessInfo.processInfo.environment["LAMINA_DATA"] { candidates.insert(URL(fileURLWithPath: env), at: 0) }
    return candidates.first(where: isComplete)
}

/// Where `swift test` built the executables (examples, helpers): beside the test bundle, or
/// `.build/debug`.
package let builtProducts: URL = {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if FileManager.default.fileExists(atPath: beside.appendingPathComponent("linear-regression").path) { return beside }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.build/debug").standardized
}()

/// A fresh folder under the system's temporary directory, named after the calling test.
package func temporaryDirectory(_ tag: String = #function) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("lamina-\(tag.filter(\.isLetter))-\(UUID().uuidString.prefix(8))")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A file of the `Fixtures` folder nearest above the calling test file (the NumPy fixtures
/// beside each test target).
package func fixtureURL(_ name: String, file: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Fixtures").path) {
        url = url.deletingLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").appendingPathComponent(name)
}

/// The Keras reference values (`keras_reference.json`, from `generate_keras_fixtures.py`).
package struct Fixture: Decodable {
    package struct T: Decodable {
        package let shape: [Int]
        package let values: [Double]
        package var tensor: Tensor { Tensor(shape: shape, scalars: values.map { Float($0) }) }
        package var tensor64: Tensor { Tensor(shape: shape, scalars: values) }
    }
    package struct LayerCase: Decodable {
        package let name: String, training: Bool
        package let input: T, weights: [T], output: T, probe: T, gradInput: T, gradWeights: [T], weightsAfter: [T]
    }
    package struct LossCase: Decodable { package let name: String; package let yTrue: T, yPred: T; package let loss: Double }
    package struct TrainCase: Decodable {
        package let name: String; package let x: T, y: T; package let initial: [T]; package let losses: [Double]; package let final: [T]
        package let sampleWeight: T?; package let classWeight: [String: Double]?
    }
    package struct Count: Decodable { package let total: Int, trainable: Int }
    package let layers: [LayerCase], losses: [LossCase], training: [TrainCase]
    /// A merge layer on several inputs: forward and the gradient with respect to each input.
    package struct MergeCase: Decodable { package let name: String; package let inputs: [T]; package let output: T, probe: T; package let gradInputs: [T] }
    package let merges: [MergeCase]
    package let paramCounts: [String: Count]
    package struct MetricCase: Decodable { package let name: String; package let yTrue: T, yPred: T; package let value: Double; package let perClass: [Double]? }
    package let metrics: [MetricCase]
    package struct NormalizationCase: Decodable { package let name: String; package let data: T, input: T, output: T, mean: T, variance: T }
    package let normalization: [NormalizationCase]
    package struct AugmentationCase: Decodable { package let name: String; package let input: T, output: T }
    package let augmentation: [AugmentationCase]
    package struct PadOptions: Decodable { package let maxlen: Int?; package let padding: String?; package let truncating: String?; package let value: Int? }
    package struct PadCase: Decodable { package let options: PadOptions; package let sequences: [[Int]]; package let output: [[Int]] }
    package let padSequences: [PadCase]

    package static let keras: Fixture = {
        try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: laminaFixtures.appendingPathComponent("keras_reference.json")))
    }()
}
