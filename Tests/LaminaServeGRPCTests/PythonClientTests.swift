import Foundation
import Lamina
import Testing

/// TensorFlow Serving's official Python client (PyPI's `tensorflow-serving-api`, with
/// TensorFlow and grpcio) against the gRPC API. It runs where the peers' virtual environment
/// has them (`LAMINA_PEERS_VENV`, default /root/peers-venv); elsewhere it is skipped, saying so.
enum PythonClient {
    static let venv = ProcessInfo.processInfo.environment["LAMINA_PEERS_VENV"] ?? "/root/peers-venv"
    static let python = venv + "/bin/python"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/tfserving_client.py").path

    /// Whether the client can be imported; the reason when not.
    static let availability: (Bool, String) = {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return (false, "no Python at \(python): install tensorflow and tensorflow-serving-api there to run it")
        }
        let (status, output) = run([python, "-c", "import tensorflow_serving.apis.prediction_service_pb2_grpc, grpc, tensorflow"])
        return status == 0 ? (true, "")
            : (false, "\(python) cannot import tensorflow-serving-api (pip install tensorflow-serving-api): \(output.suffix(300))")
    }()

    static var available: Bool {
        if !availability.0 { print("skipping the official TF Serving Python client test: \(availability.1)") }
        return availability.0
    }

    /// Runs tfserving_client.py against `server` for `batch` (with `version`: every call names
    /// it), stops the server, and returns the script's JSON; nil (an issue recorded) if it failed.
    static func call(_ server: RunningGRPCServer, model: String, batch: Tensor, version: Int? = nil) async throws -> [String: Any]? {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-grpc-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: input) }
        try JSONSerialization.data(withJSONObject: ["shape": batch.shape, "values": batch.asArray(Float.self).map(Double.init)])
            .write(to: input)
        let arguments = [python, script, String(server.grpcPort), model, input.path] + (version.map { [String($0)] } ?? [])
        // Waited for on a GCD thread, not the concurrency pool, which the server's handlers need.
        let (status, output) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: run(arguments)) }
        }
        try await server.stop()
        #expect(status == 0, "the Python client failed: \(output.suffix(2000))")
        guard status == 0 else { return nil }
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
    }

    static func run(_ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
        environment["CUDA_VISIBLE_DEVICES"] = ""
        process.environment = environment
        // stderr (TensorFlow's start-up chatter) to a file, so that neither stream can fill a pipe.
        let errorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-grpc-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorsFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorsFile) }
        guard let errors = try? FileHandle(forWritingTo: errorsFile) else { return (-1, "cannot write \(errorsFile.path)") }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return (-1, "\(error)") }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errors.close()
        let err = (try? Data(contentsOf: errorsFile)) ?? Data()
        return (process.terminationStatus, String(decoding: process.terminationStatus == 0 ? out : out + err, as: UTF8.self))
    }
}

@Suite(.serialized) struct PythonClientTests {
    @Test(.enabled(if: PythonClient.available, "needs tensorflow-serving-api in the peers' venv (LAMINA_PEERS_VENV)"))
    func officialClientPredictsOverGRPC() async throws {
        let (model, x) = try GRPCServerTests.model()
        let batch = x.sliced(axis: 0, 0..<4)
        let want = try model.predict(batch).asArray(Float.self)
        guard let result = try await PythonClient.call(try await RunningGRPCServer.start(["mnist": model]), model: "mnist", batch: batch) else { return }
        #expect(result["encoding_sent"] as? String == "tensor_content")
        expectClose(((result["tensor_content"] as? [Double]) ?? []).map { Float($0) }, want, "Python client, tensor_content")
        expectClose(((result["float_val"] as? [Double]) ?? []).map { Float($0) }, want, "Python client, float_val")
        #expect(result["output_shape"] as? [Int] == [4, 3])
        #expect(result["input_shape"] as? [Int] == [-1, 8, 8, 1])
        #expect(result["output_shape_metadata"] as? [Int] == [-1, 3])
        #expect(result["state"] as? String == "AVAILABLE")
        #expect(result["errors"] as? [String: String] == ["unknown_model": "NOT_FOUND", "bad_shape": "INVALID_ARGUMENT"])
    }

    /// The official client names a version (model_spec.version) of a model with two: that
    /// version answers, and says so; an unknown version is NOT_FOUND.
    @Test(.enabled(if: PythonClient.available, "needs tensorflow-serving-api in the peers' venv (LAMINA_PEERS_VENV)"))
    func officialClientCallsASpecificVersion() async throws {
        let directory = try VersionDirectory(versions: [1, 2])
        defer { directory.remove() }
        let batch = Tensor.randomNormal([4, 8, 8, 1], seed: 11)
        let (want, other) = (try VersionDirectory.predict(1, batch), try VersionDirectory.predict(2, batch))
        let server = try await RunningGRPCServer.start(try directory.server(policy: .all))
        guard let result = try await PythonClient.call(server, model: "m", batch: batch, version: 1) else { return }
        let got = ((result["tensor_content"] as? [Double]) ?? []).map { Float($0) }
        expectClose(got, want, "Python client, version 1, tensor_content")
        expectClose(((result["float_val"] as? [Double]) ?? []).map { Float($0) }, want, "Python client, version 1, float_val")
        #expect(got != other, "version 2 answers differently")
        #expect(result["versions_answering"] as? [Int] == [1, 1, 1])
        #expect(result["status_versions"] as? [Int] == [1])
        #expect(result["state"] as? String == "AVAILABLE")
        #expect(result["errors"] as? [String: String] == ["unknown_model": "NOT_FOUND", "bad_shape": "INVALID_ARGUMENT", "unknown_version": "NOT_FOUND"])
    }
}
