import ArgumentParser
import Foundation
import Lamina
import LaminaKeras
import LaminaServe
import LaminaServeGRPC
import Logging

/// `lamina-serve model.lamina --port 8080`: serves Lamina (`.lamina`) and Keras (`.keras`)
/// models with TensorFlow Serving's REST and gRPC protocols until SIGTERM or SIGINT: one file,
/// several (`--model NAME=PATH`, repeated), or TF Serving's `--model_config_file`; a PATH that
/// is a directory holds numbered versions (`PATH/1/model.lamina`, `PATH/2/...`), watched for
/// new ones every `--file_system_poll_wait_seconds`.
@main
struct LaminaServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lamina-serve",
        abstract: "Serve a Lamina or Keras model over HTTP (TensorFlow Serving's REST API) with dynamic batching.",
        discussion: "Kernel threads sleep between jobs (LAMINA_SPIN_US=0) unless LAMINA_SPIN_US is set; LAMINA_NUM_THREADS caps them.")

    @Argument(help: "A model file (.lamina, Lamina's own, or .keras, Keras 3) or a directory of numbered versions (DIR/1/model.lamina, DIR/2/...).")
    var model: String?

    @Option(help: "The positional model's name in URLs (/v1/models/NAME:predict); default: the file's name without extension.")
    var name: String?

    @Option(name: .customLong("model"), help: ArgumentHelp("A model to serve, as NAME=PATH (repeatable); PATH: a model file (served as version 1) or a directory of numbered versions (the latest served).", valueName: "name=path"))
    var models: [String] = []

    @Option(name: .customLong("model_config_file"), help: ArgumentHelp("TensorFlow Serving's model config file (text protobuf: model_config_list { config { name: base_path: model_version_policy version_labels } }).", valueName: "path"))
    var modelConfigFile: String?

    @Option(name: .customLong("file_system_poll_wait_seconds"), help: "Seconds between looks at the models' directories for new versions (TF Serving's flag); 0: only at start.")
    var pollWaitSeconds: Double = 1

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(name: .customLong("grpc-port"), help: "Port of the gRPC API (TensorFlow Serving's PredictionService and ModelService; 0: any free port).")
    var grpcPort = 8500

    @Flag(name: .customLong("no-grpc"), help: "Serve the REST API only.")
    var noGRPC = false

    @Option(name: .customLong("grpc-transport"),
            help: "What carries gRPC: direct (Lamina's unary gRPC on swift-nio-http2 frames) or grpc-swift (grpc-swift 2's server; slower).")
    var grpcTransport: GRPCConfiguration.Transport = .direct

    @Option(name: .customLong("max-batch"), help: "Most samples per batched prediction; 0 turns batching off.")
    var maxBatch = 64

    @Option(name: .customLong("batch-timeout"), help: "Microseconds the first request of a batch waits for others.")
    var batchTimeout = 2000

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted.")
    var maxBodyBytes = 16 << 20

    @Option(name: .customLong("version-label"), help: "A version label for /v1/models/NAME/labels/LABEL, as LABEL=VERSION, for every model (repeatable; a config file's version_labels are per model).")
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

    /// The models the flags name: the positional one, `--model`s, the config file's.
    func configs() throws -> [ModelConfig] {
        var configs: [ModelConfig] = []
        if let model {
            configs.append(ModelConfig(name: name ?? URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent, basePath: model))
        }
        for item in models {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--model takes NAME=PATH, not '\(item)'") }
            configs.append(ModelConfig(name: String(parts[0]), basePath: String(parts[1])))
        }
        if let modelConfigFile {
            do {
                configs += try ModelConfigFile.load(modelConfigFile)
            } catch {
                throw ValidationError(error.message)
            }
        }
        guard !configs.isEmpty else { throw ValidationError("no model: give a model file or directory, --model NAME=PATH, or --model_config_file") }
        return configs
    }

    func validate() throws {
        _ = try labels()
        _ = try configs()
        guard pollWaitSeconds >= 0, pollWaitSeconds.isFinite else { throw ValidationError("--file_system_poll_wait_seconds must be ≥ 0") }
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
        let loader: @Sendable (URL) throws -> InferenceModel = { url in
            url.pathExtension.lowercased() == "keras"
                ? try KerasFile.load(url, compile: false).inferenceModel() : try Model.load(url.path, restoreRandomState: false).inferenceModel()
        }
        let server: ModelServer
        do {
            server = try ModelServer(configs: try configs(),
                                     configuration: .init(host: host, port: port, maxBatch: maxBatch,
                                                          batchTimeout: .microseconds(batchTimeout), maxBodyBytes: maxBodyBytes,
                                                          versionLabels: try labels(),
                                                          fileSystemPollWait: pollWaitSeconds > 0 ? .milliseconds(Int((pollWaitSeconds * 1000).rounded())) : nil),
                                     loader: loader)
        } catch let error as RequestError {
            throw ValidationError(error.message)
        }
        try await server.run(grpc: noGRPC ? nil : GRPCConfiguration(host: host, port: grpcPort, maxRequestBytes: maxBodyBytes, transport: grpcTransport))
    }
}

extension GRPCConfiguration.Transport: ExpressibleByArgument {}
