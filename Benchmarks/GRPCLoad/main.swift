import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LaminaServeGRPC
import SwiftProtobuf

/// `lamina-grpc-load PORT MODEL CONCURRENCY SECONDS [CHANNELS]`: a gRPC load generator for
/// TensorFlow Serving's `Predict` (ghz is not packaged for this machine): CONCURRENCY calls in
/// flight at all times over CHANNELS HTTP/2 connections (default min(CONCURRENCY, 4)), each
/// one 28×28×1 float image in `tensor_content`, as tf.make_tensor_proto sends it. Prints one
/// line, as serve_bench.sh reads wrk's: `RESULT req/s p50_ms p99_ms mean_ms errors requests`.
/// `lamina-grpc-load --write-body FILE MODEL` writes that call's HTTP/2 body instead, for h2load
/// (nghttp2's load generator, in C: it takes far less of the CPU the server shares with it).
@main
struct GRPCLoad {
    /// The Predict request every call sends: one 28×28×1 image in `tensor_content`.
    static func request(model: String) -> Tensorflow_Serving_PredictRequest {
        var request = Tensorflow_Serving_PredictRequest()
        request.modelSpec.name = model
        request.modelSpec.signatureName = "serving_default"
        var tensor = Tensorflow_TensorProto()
        tensor.dtype = .dtFloat
        for size in [1, 28, 28, 1] {
            var dim = Tensorflow_TensorShapeProto.Dim()
            dim.size = Int64(size)
            tensor.tensorShape.dim.append(dim)
        }
        var generator = SystemRandomNumberGenerator()
        let image = (0..<784).map { _ in Float(Int.random(in: 0...10000, using: &generator)) / 10000 }
        tensor.tensorContent = image.withUnsafeBytes { Data($0) }
        request.inputs["input"] = tensor
        return request
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count == 4, arguments[1] == "--write-body" {
            // The call's HTTP/2 body (gRPC's 5-byte prefix and the message), for h2load.
            let message: [UInt8] = try request(model: arguments[3]).serializedBytes()
            let length = UInt32(message.count).bigEndian
            let body = [0] + withUnsafeBytes(of: length, Array.init) + message
            try Data(body).write(to: URL(fileURLWithPath: arguments[2]))
            return
        }
        guard arguments.count >= 5, let port = Int(arguments[1]), let concurrency = Int(arguments[3]), let seconds = Double(arguments[4]),
              concurrency > 0, seconds > 0 else {
            FileHandle.standardError.write(Data("usage: lamina-grpc-load PORT MODEL CONCURRENCY SECONDS [CHANNELS] | --write-body FILE MODEL\n".utf8))
            exit(2)
        }
        let channels = max(1, min(arguments.count > 5 ? Int(arguments[5]) ?? 4 : 4, concurrency))
        let message = request(model: arguments[2])

        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        let started = clock.now
        // Latencies in microseconds, and errors, per caller.
        let results = try await withThrowingTaskGroup(of: ([Int], Int).self) { group in
            for c in 0..<channels {
                let callers = concurrency / channels + (c < concurrency % channels ? 1 : 0)
                group.addTask {
                    try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext)) { client in
                        let predictions = Tensorflow_Serving_PredictionService.Client(wrapping: client)
                        return try await withThrowingTaskGroup(of: ([Int], Int).self) { callersGroup in
                            for _ in 0..<callers {
                                callersGroup.addTask {
                                    var latencies: [Int] = []
                                    latencies.reserveCapacity(1 << 16)
                                    var errors = 0
                                    while clock.now < end {
                                        let start = clock.now
                                        do {
                                            let response = try await predictions.predict(message)
                                            if response.outputs["output"] == nil { errors += 1 }
                                        } catch {
                                            errors += 1
                                        }
                                        let elapsed = start.duration(to: clock.now)
                                        latencies.append(Int(elapsed.components.seconds) * 1_000_000 + Int(elapsed.components.attoseconds / 1_000_000_000_000))
                                    }
                                    return (latencies, errors)
                                }
                            }
                            var all: ([Int], Int) = ([], 0)
                            for try await (latencies, errors) in callersGroup {
                                all.0 += latencies
                                all.1 += errors
                            }
                            return all
                        }
                    }
                }
            }
            var all: ([Int], Int) = ([], 0)
            for try await (latencies, errors) in group {
                all.0 += latencies
                all.1 += errors
            }
            return all
        }
        let elapsed = started.duration(to: clock.now)
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let sorted = results.0.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
        }
        let mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        print(String(format: "RESULT %.1f %.3f %.3f %.3f %d %d", Double(sorted.count) / wall, percentile(0.5), percentile(0.99), mean,
                     results.1, sorted.count))
    }
}
