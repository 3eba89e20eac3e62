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
        abstract: "Serve a Lamina or Keras model over HTTP (TensorFlow Serving's REST API) with dynamic batching.",
        discussion: "Kernel threads sleep between jobs (LAMINA_SPIN_US=0) unless LAMINA_SPIN_US is set; LAMINA_NUM_THREADS caps them.")

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

    @Option(name: .customLong("version-label"), help: "A version label for /v1/models/NAME/labels/LABEL, as LABEL=VERSION (repeatable; the model is served as version 1).")
    var versionLabels: [String] = []

    func labels() throws -> [String: Int] {
        var labels: [String: Int] = [:]
        for item in versionLabels {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, let version = Int(parts[1]), version >= 0 else {
                throw ValidationError("--version-label takes LABEL=VERSION, not '\(item)'")
            }
            labels[String(parts[0])] = version
        }
        return labels
    }

    func validate() throws {
        _ = try labels()
        guard (0...65535).contains(port), (0...65535).contains(grpcPort) else { throw ValidationError("--port and --grpc-port must be in 0...65535") }
        guard maxBatch >= 0, batchTimeout >= 0, maxBodyBytes > 0 else {
            throw ValidationError("--max-batch and --batch-timeout must be ≥ 0, --max-body-bytes > 0")
        }
    }

    func run() async throws {
        // Lamina's kernel threads spin 1 ms for the next job by default (good between the ops of
        // a training step); in a server they take the cores from the event loops between
        // requests: on 2 cores, perf put 70% of lamina-serve's time in that spin, and turning it
        // off gave 1.2-3x the requests/s with batching. Sleep at once unless LAMINA_SPIN_US says otherwise.
        setenv("LAMINA_SPIN_US", "0", 0)
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
                                                      batchTimeout: .microseconds(batchTimeout), maxBodyBytes: maxBodyBytes,
                                                      versionLabels: try labels()))
        try await server.run(grpc: noGRPC ? nil : GRPCConfiguration(host: host, port: grpcPort, maxRequestBytes: maxBodyBytes))
    }
}
