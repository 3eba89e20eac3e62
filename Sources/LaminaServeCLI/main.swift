import ArgumentParser
import Foundation
import Lamina
import LaminaKeras
import LaminaServe
import LaminaServeGRPC
import Logging

/// `lamina-serve model.lamina --port 8080`: serves a Lamina (`.lamina`) or Keras (`.keras`)
/// model with TensorFlow Serving's REST protocol until SIGTERM or SIGINT.
@main
struct LaminaServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lamina-serve",
        abstract: "Serve a Lamina or Keras model over HTTP (TensorFlow Serving's REST API) with dynamic batching.")

    @Argument(help: "The model file: .lamina (Lamina's own) or .keras (Keras 3).")
    var model: String

    @Option(help: "The model's name in URLs (/v1/models/NAME:predict); default: the file's name without extension.")
    var name: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(name: .customLong("grpc-port"), help: "Port of the gRPC API (TensorFlow Serving's PredictionService and ModelService; 0: any free port).")
    var grpcPort = 8500

    @Flag(name: .customLong("no-grpc"), help: "Serve the REST API only.")
    var noGRPC = false

    @Option(name: .customLong("max-batch"), help: "Most samples per batched prediction; 0 turns batching off.")
    var maxBatch = 64

    @Option(name: .customLong("batch-timeout"), help: "Microseconds the first request of a batch waits for others.")
    var batchTimeout = 2000

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted.")
    var maxBodyBytes = 16 << 20

    func validate() throws {
        guard (0...65535).contains(port), (0...65535).contains(grpcPort) else { throw ValidationError("--port and --grpc-port must be in 0...65535") }
        guard maxBatch >= 0, batchTimeout >= 0, maxBodyBytes > 0 else {
            throw ValidationError("--max-batch and --batch-timeout must be ≥ 0, --max-body-bytes > 0")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let url = URL(fileURLWithPath: model)
        let loaded: Model
        do {
            loaded = url.pathExtension.lowercased() == "keras"
                ? try KerasFile.load(url, compile: false) : try Model.load(model, restoreRandomState: false)
        } catch let error as LaminaError {
            throw ValidationError("cannot load \(model): \(error.message)")
        }
        let served = name ?? url.deletingPathExtension().lastPathComponent
        let server = ModelServer(models: [served: try loaded.inferenceModel()],
                                 configuration: .init(host: host, port: port, maxBatch: maxBatch,
                                                      batchTimeout: .microseconds(batchTimeout), maxBodyBytes: maxBodyBytes))
        try await server.run(grpc: noGRPC ? nil : GRPCConfiguration(host: host, port: grpcPort, maxRequestBytes: maxBodyBytes))
    }
}
