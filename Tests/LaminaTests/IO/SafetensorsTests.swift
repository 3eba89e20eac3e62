import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

@Suite struct SafetensorsTests {
    func model(seed: UInt64) -> Sequential {
        Lamina.withRandomSeed(seed) {
            Sequential([
                Conv2D(4, kernelSize: 3, activation: .relu, inputShape: [8, 8, 1]), BatchNormalization(),
                MaxPooling2D(poolSize: 2), Reshape([9, 4]), LSTM(5, returnSequences: true), SimpleRNN(3),
                Dense(2, activation: .softmax),
            ])
        }
    }

    @Test func weightsRoundTripIntoAFreshModel() throws {
        let a = model(seed: 1), b = model(seed: 2)
        let x = Tensor.randomNormal([3, 8, 8, 1], seed: 3)
        // Give BatchNormalization non-trivial moving statistics first.
        a.compile(optimizer: .sgd, loss: .meanSquaredError)
        try a.fit(x, Tensor.randomUniform([3, 2], seed: 4), epochs: 2, verbose: 0)
        #expect(try a.predict(x).asArray(Float.self) != b.predict(x).asArray(Float.self))
        let url = temporaryDirectory().appendingPathComponent("weights.safetensors")
        try a.saveWeights(to: url)
        try b.loadWeights(from: url)
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
        for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
    }

    @Test func layoutIsTheSafetensorsFormat() throws {
        let t = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4] as [Float]), i = Tensor(shape: [3], scalars: [7, 8, 9] as [Int32])
        let bytes = [UInt8](try Safetensors.encode([("dense/kernel", t), ("steps", i)], metadata: ["epoch": "3"]))
        let n = Int(bytes[0]) | Int(bytes[1]) << 8  // small header: the upper bytes are 0
        #expect(bytes[2..<8].allSatisfy { $0 == 0 } && (8 + n) % 8 == 0)
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        let kernel = header["dense/kernel"] as! [String: Any]
        #expect(kernel["dtype"] as? String == "F32" && kernel["shape"] as? [Int] == [2, 2])
        #expect(kernel["data_offsets"] as? [Int] == [0, 16])
        #expect((header["steps"] as! [String: Any])["data_offsets"] as? [Int] == [16, 28])
        #expect((header["__metadata__"] as? [String: String]) == ["epoch": "3"])
        #expect(bytes.count == 8 + n + 28)
        let decoded = try Safetensors.decode(bytes)
        #expect(decoded.tensors.map(\.name) == ["dense/kernel", "steps"] && decoded.metadata["epoch"] == "3")
        #expect(decoded.tensors[1].tensor.asArray(Int32.self) == [7, 8, 9])
    }

    @Test func damagedFilesThrowInsteadOfCrashing() throws {
        let a = model(seed: 5)
        let bytes = [UInt8](try Safetensors.encode(a.weights.map { ($0.name, $0.value) }))
        var rng = RandomGenerator(seed: 6)
        var failures = 0
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            do { _ = try Safetensors.decode(Array(bytes.prefix(cut))) } catch is LaminaError { failures += 1 }
        }
        #expect(failures == (0..<bytes.count).filter { $0 % max(1, bytes.count / 97) == 0 }.count)  // every cut throws
        for _ in 0..<300 {  // random bit flips in the header: an error or a well-formed result, never a crash
            var damaged = bytes
            let at = Int(rng.next() % UInt64(min(bytes.count, 600)))
            damaged[at] ^= UInt8(1 << (rng.next() % 8))
            _ = try? Safetensors.decode(damaged)
        }
        let hostile: [[UInt8]] = [
            [255, 255, 255, 255, 255, 255, 255, 127],                               // absurd header length
            [16, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"a":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,4]}}"#.utf8),
        ]
        for h in hostile { #expect(throws: LaminaError.self) { try Safetensors.decode(h) } }
    }

    @Test func loadingIntoAnotherArchitectureNamesWhatDoesNotFit() throws {
        let url = temporaryDirectory().appendingPathComponent("w.safetensors")
        try Sequential([Dense(3, inputShape: [4], name: "d1")]).saveWeights(to: url)
        let error = #expect(throws: LaminaError.self) {
            try Sequential([Dense(3, inputShape: [4], name: "d2")]).loadWeights(from: url, byName: true)
        }
        #expect(error?.message.contains("missing d2/kernel") == true && error?.message.contains("unexpected d1/bias") == true)
        try Sequential([Dense(3, inputShape: [4], name: "d2")]).loadWeights(from: url)  // in order: fits
        let shapes = #expect(throws: LaminaError.self) { try Sequential([Dense(5, inputShape: [4])]).loadWeights(from: url) }
        #expect(shapes?.message.contains("d1/kernel has shape [4, 3]") == true)
        let count = #expect(throws: LaminaError.self) {
            try Sequential([Dense(3, inputShape: [4]), Dense(3)]).loadWeights(from: url)
        }
        #expect(count?.message.contains("holds 2 weights") == true)
    }

    /// A file written by Python's `safetensors` (Fixtures/generate_safetensors_fixture.py).
    @Test func readsAFileWrittenByPythonSafetensors() throws {
        let (tensors, metadata) = try Safetensors.load(dataFixtures.appendingPathComponent("python.safetensors"))
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
        #expect(metadata == ["source": "python"])
        #expect(byName["dense/kernel"]?.shape == [2, 3])
        #expect(byName["dense/kernel"]?.asArray(Float.self) == (0..<6).map { Float($0) * 0.25 - 1 })
        #expect(byName["dense/bias"]?.asArray(Double.self) == [0.5, -0.5, 2])
        #expect(byName["step"]?.asArray(Int32.self) == [7])
    }
}
