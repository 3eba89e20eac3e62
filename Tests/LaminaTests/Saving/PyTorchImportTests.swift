import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// State dicts and outputs written by PyTorch (Fixtures/generate_pytorch_fixture.py).
@Suite struct PyTorchImportTests {
    func io() throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try Safetensors.load(dataFixtures.appendingPathComponent("pytorch_io.safetensors")).tensors
            .map { ($0.name, $0.tensor) })
    }

    @Test func convnetWithBatchNormAndFlattenGivesPyTorchsOutputs() throws {
        let model = Sequential([
            Conv2D(4, kernelSize: 3, padding: .same, inputShape: [8, 8, 2]), BatchNormalization(momentum: 0.9, epsilon: 1e-5),
            Activation(.relu), MaxPooling2D(), Flatten(), Dense(5),
        ])
        try model.loadPyTorchWeights(from: dataFixtures.appendingPathComponent("pytorch_cnn.safetensors"))
        let io = try io()
        let x = io["cnn_x_nchw"]!.permuted([0, 2, 3, 1])   // NCHW → NHWC
        expectClose(try model.predict(x), io["cnn_y"]!, atol: 1e-5, rtol: 1e-5, "cnn")
    }

    @Test func recurrentModulesMapByName() throws {
        let model = Sequential([SimpleRNN(4, returnSequences: true, inputShape: [5, 3], name: "r"), LSTM(6, name: "l"), Dense(2, name: "d")])
        let url = dataFixtures.appendingPathComponent("pytorch_recurrent.safetensors")
        // Natural order would be head, lstm, rnn: the shapes do not fit, and the error says so.
        let error = #expect(throws: LaminaError.self) { try model.loadPyTorchWeights(from: url) }
        #expect(error?.message.contains("PyTorch module 'head'") == true)
        try model.loadPyTorchWeights(from: url, mapping: ["r": "rnn", "l": "lstm", "d": "head"])
        let io = try io()
        expectClose(try model.predict(io["rec_x"]!), io["rec_y"]!, atol: 1e-5, rtol: 1e-5, "recurrent")
    }

    @Test func naturalOrderAndMismatchesAreExplained() throws {
        #expect(["10", "2", "1", "fc"].sorted(by: PyTorch.naturalOrder) == ["1", "2", "10", "fc"])
        #expect(["layer10.0", "layer2.1", "layer2.0"].sorted(by: PyTorch.naturalOrder) == ["layer2.0", "layer2.1", "layer10.0"])
        let model = Sequential([Dense(3, inputShape: [4])])
        let stacked: [(name: String, tensor: Tensor)] = [
            ("0.weight", .zeros([3, 4])), ("0.bias", .zeros([3])), ("0.extra", .zeros([3])),
        ]
        let e = #expect(throws: LaminaError.self) { try model.loadPyTorchStateDict(stacked) }
        #expect(e?.message.contains("cannot place: extra") == true)
        let wrong = #expect(throws: LaminaError.self) { try model.loadPyTorchStateDict([("0.weight", .zeros([4, 3])), ("0.bias", .zeros([3]))]) }
        #expect(wrong?.message.contains("do not match the layer's [[4, 3], [3]]") == true)
    }

    @Test func halfPrecisionAndInt64AreWidenedOnLoad() throws {
        // F16 1.5 = 0x3E00, BF16 -2.0 = 0xC000, I64 7.
        let header = #"{"bf":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"n":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}"#
        var bytes = [UInt8](repeating: 0, count: 8) + Array(header.utf8)
        bytes[0] = UInt8(header.utf8.count)
        bytes += [0x00, 0x3E, 0x00, 0xC0, 7, 0, 0, 0, 0, 0, 0, 0]
        let t = Dictionary(uniqueKeysWithValues: try Safetensors.decode(bytes).tensors.map { ($0.name, $0.tensor) })
        #expect(t["h"]!.asArray(Float.self) == [1.5] && t["bf"]!.asArray(Float.self) == [-2] && t["n"]!.asArray(Int32.self) == [7])
        bytes[bytes.count - 4] = 1   // 2^32 + 7 does not fit int32
        #expect(throws: LaminaError.self) { try Safetensors.decode(bytes) }
    }
}
