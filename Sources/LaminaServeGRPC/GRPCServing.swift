import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Lamina
import LaminaServe
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceLifecycle

/// Where the gRPC API listens (TensorFlow Serving's port is 8500, its REST port 8501).
public struct GRPCConfiguration: Sendable {
    /// The address to listen on (`0.0.0.0` for every interface).
    public var host: String
    /// 0 picks a free port (the one bound is passed to `GRPCModelService`'s `onServerRunning`).
    public var port: Int
    /// The largest request message accepted (RESOURCE_EXHAUSTED above it).
    public var maxRequestBytes: Int
    /// What carries the calls.
    public var transport: Transport

    /// What carries the calls over HTTP/2.
    public enum Transport: String, Sendable, CaseIterable {
        /// Lamina's unary gRPC on swift-nio-http2's frames (the default): no channel or Swift
        /// task per call. A client's `grpc-timeout` is left to the client to enforce.
        case direct
        /// grpc-swift 2's server and HTTP/2 transport (a child channel and tasks per call);
        /// slower, for comparison, and with its deadline and keepalive handling.
        case grpcSwift = "grpc-swift"
    }

    /// The settings (TensorFlow Serving's gRPC port is 8500).
    public init(host: String = "127.0.0.1", port: Int = 8500, maxRequestBytes: Int = 16 << 20, transport: Transport = .direct) {
        (self.host, self.port, self.maxRequestBytes, self.transport) = (host, port, maxRequestBytes, transport)
    }
}

/// The gRPC server (plaintext HTTP/2) of a `ModelServer`'s models as a swift-service-lifecycle
/// service: graceful shutdown stops accepting connections, sends each one GOAWAY and closes it
/// once its calls are answered. Run it in the same `ServiceGroup` as the server's REST
/// application, after it (services stop in reverse order, so the batchers the REST application
/// stops are stopped last).
///
/// The calls are served straight from the HTTP/2 frames on NIO's event loops (see
/// `GRPCConnectionHandler`), with no channel or Swift task per call; `PredictionService` and
/// `ModelService` are the same methods for a grpc-swift `GRPCServer` of your own.
public struct GRPCModelService: Service {
    /// Where the service listens.
    public let configuration: GRPCConfiguration
    let endpoints: GRPCEndpoints
    let onServerRunning: @Sendable (Int) async -> Void
    let logger: Logger

    /// The gRPC API of `modelServer`'s models; `onServerRunning` is called with the bound port.
    public init(modelServer: ModelServer, configuration: GRPCConfiguration = .init(),
                onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.configuration = configuration
        endpoints = GRPCEndpoints(predictions: PredictionService(server: modelServer), models: ModelService(server: modelServer),
                                  maxRequestBytes: configuration.maxRequestBytes,
                                  streamWindow: 1 << 20, connectionWindow: 8 << 20)
        self.onServerRunning = onServerRunning
        logger = modelServer.serverLogger
    }

    /// Serves until the service group shuts down, then finishes the calls in flight.
    public func run() async throws {
        switch configuration.transport {
        case .direct: try await runDirect()
        case .grpcSwift: try await runGRPCSwift()
        }
    }

    private func runGRPCSwift() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: .plaintext,
            config: .defaults { $0.rpc.maxRequestPayloadSize = configuration.maxRequestBytes })
        let server = GRPCServer(transport: transport, services: [endpoints.predictions, endpoints.models])
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

    private func runDirect() async throws {
        let connections = GRPCConnections()
        let endpoints = endpoints
        let settings: HTTP2Settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 256),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: endpoints.streamWindow),
        ]
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings))
                    try channel.pipeline.syncOperations.addHandler(GRPCConnectionHandler(endpoints: endpoints))
                    connections.add(channel)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await onServerRunning(listener.localAddress?.port ?? -1)
                try? await listener.closeFuture.get()
                await connections.drain()
            } onGracefulShutdown: {
                listener.close(promise: nil)
            }
        } onCancel: {
            listener.close(promise: nil)
            connections.closeAll()
        }
    }
}

/// The open connections of a gRPC listener, for graceful shutdown.
final class GRPCConnections: Sendable {
    private let state = Locked<(channels: [ObjectIdentifier: any Channel], draining: Bool)>(([:], false))

    /// Tracks `channel` until it closes (one accepted while draining is drained at once).
    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let draining = state.withLock { state in
            state.channels[id] = channel
            return state.draining
        }
        channel.closeFuture.whenComplete { _ in _ = self.state.withLock { $0.channels.removeValue(forKey: id) } }
        if draining { channel.pipeline.fireUserInboundEventTriggered(GRPCDrainEvent()) }
    }

    /// Asks every connection to finish its calls and close, and waits until all have.
    func drain() async {
        let channels = state.withLock { state in
            state.draining = true
            return Array(state.channels.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(GRPCDrainEvent())
        }
        for channel in channels {
            try? await channel.closeFuture.get()
        }
    }

    /// Closes every connection now.
    func closeAll() {
        for channel in state.withLock({ Array($0.channels.values) }) { channel.close(promise: nil) }
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
