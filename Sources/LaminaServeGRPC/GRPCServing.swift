import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LaminaServe
import Logging
import ServiceLifecycle

/// Where the gRPC API listens (TensorFlow Serving's port is 8500, its REST port 8501).
public struct GRPCConfiguration: Sendable {
    /// The address to listen on (`0.0.0.0` for every interface).
    public var host: String
    /// 0 picks a free port (see `GRPCModelService.onServerRunning`).
    public var port: Int
    /// The largest request message accepted (RESOURCE_EXHAUSTED above it).
    public var maxRequestBytes: Int

    /// The settings (TensorFlow Serving's gRPC port is 8500).
    public init(host: String = "127.0.0.1", port: Int = 8500, maxRequestBytes: Int = 16 << 20) {
        (self.host, self.port, self.maxRequestBytes) = (host, port, maxRequestBytes)
    }
}

/// The gRPC server (plaintext HTTP/2) of a `ModelServer`'s models as a swift-service-lifecycle
/// service: graceful shutdown stops accepting calls and finishes those in flight. Run it in the
/// same `ServiceGroup` as the server's REST application, after it (services stop in reverse
/// order, so the batchers the REST application stops are stopped last).
public struct GRPCModelService: Service {
    /// Where the service listens.
    public let configuration: GRPCConfiguration
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let onServerRunning: @Sendable (Int) async -> Void
    let logger: Logger

    /// The gRPC API of `modelServer`'s models; `onServerRunning` is called with the bound port.
    public init(modelServer: ModelServer, configuration: GRPCConfiguration = .init(),
                onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.configuration = configuration
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: .plaintext,
            config: .defaults { $0.rpc.maxRequestPayloadSize = configuration.maxRequestBytes })
        server = GRPCServer(transport: transport,
                            services: [PredictionService(server: modelServer), ModelService(server: modelServer)])
        self.onServerRunning = onServerRunning
        logger = modelServer.serverLogger
    }

    /// Serves until the service group shuts down, then finishes the calls in flight.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                group.addTask {
                    let port = (try? await server.transport.listeningAddress.ipv4?.port) ?? -1
                    await onServerRunning(port)
                }
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}

extension ModelServer {
    /// Runs the REST API and, with `grpc`, the gRPC API beside it until SIGTERM or SIGINT, then
    /// shuts both down gracefully.
    public func run(grpc: GRPCConfiguration?) async throws {
        let rest = application { port in self.serverLogger.info("lamina-serve REST listening on \(self.configuration.host):\(port)") }
        var services: [any Service] = [rest]
        if let grpc {
            services.append(GRPCModelService(modelServer: self, configuration: grpc) { port in
                self.serverLogger.info("lamina-serve gRPC listening on \(grpc.host):\(port)")
            })
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: serverLogger)
        try await group.run()
    }
}
