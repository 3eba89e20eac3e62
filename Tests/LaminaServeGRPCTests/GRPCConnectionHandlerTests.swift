import Foundation
import GRPCCore
import Lamina
import LaminaServe
import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf
import Testing
@testable import LaminaServeGRPC

/// The gRPC wire protocol of `GRPCConnectionHandler`, frame by frame, on an `EmbeddedChannel`
/// (no socket, no NIOHTTP2Handler): what a call's frames get back, for good and bad calls, and
/// the flow-control credit and GOAWAY it writes. Predict, which answers from the batcher's
/// thread, is shown over a real connection in `GRPCServerTests`.
@Suite struct GRPCConnectionHandlerTests {
    static let metadataPath = "/tensorflow.serving.PredictionService/GetModelMetadata"

    /// A channel with the handler over one small model (`mnist`), requests up to `maxRequestBytes`.
    static func channel(maxRequestBytes: Int = 1 << 20) throws -> EmbeddedChannel {
        let model = Lamina.withRandomSeed(3) { Sequential([Input(shape: [4]), Dense(2)]) }
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let server = ModelServer(models: ["mnist": try model.inferenceModel()], configuration: .init(port: 0, maxBatch: 0), logger: quiet)
        let endpoints = GRPCEndpoints(predictions: PredictionService(server: server), models: ModelService(server: server),
                                      maxRequestBytes: maxRequestBytes, streamWindow: 1 << 20, connectionWindow: 8 << 20)
        let channel = EmbeddedChannel(handler: GRPCConnectionHandler(endpoints: endpoints))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8500)).wait()
        return channel
    }

    static func headers(_ path: String, method: String = "POST", contentType: String = "application/grpc",
                        extra: [(String, String)] = []) -> HPACKHeaders {
        HPACKHeaders([(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                      ("content-type", contentType), ("te", "trailers")] + extra)
    }

    /// `message` with gRPC's length prefix (`flag` 1: compressed).
    static func framed(_ message: [UInt8], flag: UInt8 = 0, length: Int? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(flag)
        buffer.writeInteger(UInt32(length ?? message.count))
        buffer.writeBytes(message)
        return buffer
    }

    static func metadataRequest(_ name: String = "mnist") throws -> [UInt8] {
        var request = Tensorflow_Serving_GetModelMetadataRequest()
        request.modelSpec.name = name
        request.metadataField = ["signature_def"]
        return try request.serializedBytes()
    }

    static func send(_ channel: EmbeddedChannel, _ stream: Int, headers: HPACKHeaders, endStream: Bool = false) throws {
        try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: headers, endStream: endStream))))
    }

    static func send(_ channel: EmbeddedChannel, _ stream: Int, data: ByteBuffer, endStream: Bool = true) throws {
        try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .data(.init(data: .byteBuffer(data), endStream: endStream))))
    }

    /// Every frame the handler has written, in order.
    static func written(_ channel: EmbeddedChannel) throws -> [HTTP2Frame] {
        var frames: [HTTP2Frame] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(frame) }
        return frames
    }

    /// The frames written on `stream` (connection-level frames left out).
    static func written(_ channel: EmbeddedChannel, stream: Int) throws -> [HTTP2Frame.FramePayload] {
        try written(channel).filter { $0.streamID == HTTP2StreamID(stream) }.map(\.payload)
    }

    /// The grpc-status and grpc-message of a trailers-only answer (nil: not one).
    static func status(_ payloads: [HTTP2Frame.FramePayload]) -> (code: Int, message: String)? {
        guard case .headers(let headers)? = payloads.first, headers.endStream,
              let code = headers.headers.first(name: "grpc-status").flatMap(Int.init) else { return nil }
        return (code, headers.headers.first(name: "grpc-message") ?? "")
    }

    @Test func aCallGetsHeadersOneMessageAndOKTrailers() throws {
        let channel = try Self.channel()
        try Self.send(channel, 1, headers: Self.headers(Self.metadataPath))
        try Self.send(channel, 1, data: Self.framed(try Self.metadataRequest()))
        let frames = try Self.written(channel)
        // First the connection window raised from 64 KiB to 8 MiB.
        guard case .windowUpdate(let increment) = frames.first?.payload, frames.first?.streamID == .rootStream else {
            Issue.record("no connection WINDOW_UPDATE first: \(frames)")
            return
        }
        #expect(increment == (8 << 20) - 65535)
        let answer = frames.dropFirst().map(\.payload)
        #expect(answer.count == 3)
        guard answer.count == 3, case .headers(let head) = answer[0], case .data(let data) = answer[1], case .headers(let trailers) = answer[2],
              case .byteBuffer(let body) = data.data else {
            Issue.record("not HEADERS, DATA, HEADERS: \(answer)")
            return
        }
        #expect(head.headers.first(name: ":status") == "200" && head.headers.first(name: "content-type") == "application/grpc" && !head.endStream)
        #expect(trailers.headers.first(name: "grpc-status") == "0" && trailers.endStream)
        #expect(body.getInteger(at: body.readerIndex, as: UInt8.self) == 0)
        let length = try #require(body.getInteger(at: body.readerIndex + 1, as: UInt32.self))
        #expect(Int(length) + 5 == body.readableBytes)
        let response = try Tensorflow_Serving_GetModelMetadataResponse(serializedBytes: body.getBytes(at: body.readerIndex + 5, length: Int(length)) ?? [])
        #expect(response.modelSpec.name == "mnist" && response.modelSpec.version.value == 1)
        let map = try Tensorflow_Serving_SignatureDefMap(unpackingAny: try #require(response.metadata["signature_def"]))
        #expect(map.signatureDef["serving_default"]?.inputs["input"]?.tensorShape.dim.map(\.size) == [-1, 4])
    }

    @Test func aMessageSplitOverFramesIsReassembled() throws {
        let channel = try Self.channel()
        var whole = Self.framed(try Self.metadataRequest())
        try Self.send(channel, 1, headers: Self.headers(Self.metadataPath))
        while whole.readableBytes > 0 {
            try Self.send(channel, 1, data: whole.readSlice(length: min(3, whole.readableBytes))!, endStream: false)
        }
        try Self.send(channel, 1, data: ByteBuffer(), endStream: true)
        let answer = try Self.written(channel, stream: 1)
        guard case .headers(let trailers)? = answer.last else {
            Issue.record("no trailers: \(answer)")
            return
        }
        #expect(answer.count == 3 && trailers.headers.first(name: "grpc-status") == "0")
    }

    @Test func badCallsGetTheirStatusAndTheConnectionGoesOn() throws {
        let channel = try Self.channel(maxRequestBytes: 1000)
        let good = Self.framed(try Self.metadataRequest())

        // An unknown method, ending with its headers: trailers only, UNIMPLEMENTED, no RST_STREAM.
        try Self.send(channel, 1, headers: Self.headers("/tensorflow.serving.PredictionService/Classify"), endStream: true)
        var answer = try Self.written(channel, stream: 1)
        #expect(Self.status(answer)?.code == RPCError.Code.unimplemented.rawValue)
        #expect(answer.count == 1)

        // Not gRPC: plain HTTP statuses.
        try Self.send(channel, 3, headers: Self.headers(Self.metadataPath, method: "GET"), endStream: true)
        guard case .headers(let get)? = try Self.written(channel, stream: 3).first else { throw RPCError(code: .internalError, message: "no answer") }
        #expect(get.headers.first(name: ":status") == "405" && get.endStream)
        try Self.send(channel, 5, headers: Self.headers(Self.metadataPath, contentType: "application/json"), endStream: true)
        guard case .headers(let json)? = try Self.written(channel, stream: 5).first else { throw RPCError(code: .internalError, message: "no answer") }
        #expect(json.headers.first(name: ":status") == "415")

        // Over the limit: refused as soon as the prefix arrives, and the client told to stop sending.
        try Self.send(channel, 7, headers: Self.headers(Self.metadataPath))
        try Self.send(channel, 7, data: Self.framed([], length: 5000), endStream: false)
        answer = try Self.written(channel, stream: 7)
        #expect(Self.status(answer)?.code == RPCError.Code.resourceExhausted.rawValue)
        #expect(Self.status(answer)?.message.contains("5000") == true)
        guard answer.count == 2, case .rstStream(let code) = answer[1] else {
            Issue.record("no RST_STREAM after the early answer: \(answer)")
            return
        }
        #expect(code == .noError)
        try Self.send(channel, 7, data: ByteBuffer(repeating: 0, count: 100), endStream: true)
        #expect(try Self.written(channel, stream: 7).isEmpty, "what arrives after the answer is dropped")

        // Compressed, two messages, a cut-off message, a message that is not the request, an unknown encoding.
        let cases: [(ByteBuffer, [(String, String)], RPCError.Code)] = [
            (Self.framed(try Self.metadataRequest(), flag: 1), [], .unimplemented),
            ({ var two = good; var again = good; two.writeBuffer(&again); return two }(), [], .invalidArgument),
            (good.getSlice(at: 0, length: good.readableBytes - 1)!, [], .invalidArgument),
            (Self.framed([0xFF, 0xFF, 0xFF]), [], .invalidArgument),
            (good, [("grpc-encoding", "snappy")], .unimplemented),
            (Self.framed(try Self.metadataRequest("nope")), [], .notFound),
        ]
        for (index, (body, extra, code)) in cases.enumerated() {
            let stream = 9 + 2 * index
            try Self.send(channel, stream, headers: Self.headers(Self.metadataPath, extra: extra))
            try Self.send(channel, stream, data: body, endStream: true)
            let status = Self.status(try Self.written(channel, stream: stream))
            #expect(status?.code == code.rawValue, "case \(index): \(String(describing: status))")
        }

        // Still answering.
        try Self.send(channel, 101, headers: Self.headers(Self.metadataPath))
        try Self.send(channel, 101, data: good)
        guard case .headers(let trailers)? = try Self.written(channel, stream: 101).last else { throw RPCError(code: .internalError, message: "no answer") }
        #expect(trailers.headers.first(name: "grpc-status") == "0")
    }

    @Test func aResetCallIsNotAnswered() throws {
        let channel = try Self.channel()
        try Self.send(channel, 1, headers: Self.headers(Self.metadataPath))
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
        try Self.send(channel, 1, data: Self.framed(try Self.metadataRequest()))
        #expect(try Self.written(channel, stream: 1).isEmpty)
    }

    @Test func flowControlCreditIsGrantedAtHalfTheWindow() throws {
        let channel = try Self.channel()
        try Self.send(channel, 1, headers: Self.headers(Self.metadataPath))
        _ = try Self.written(channel)
        func event(_ stream: Int, _ size: Int) throws -> [HTTP2Frame] {
            channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: HTTP2StreamID(stream), inboundWindowSize: size, outboundWindowSize: nil))
            return try Self.written(channel)
        }
        #expect(try event(0, (8 << 20) / 2 + 1).isEmpty, "above half the connection window: nothing yet")
        let connection = try event(0, 1000)
        guard case .windowUpdate(let increment)? = connection.first?.payload else {
            Issue.record("no connection credit: \(connection)")
            return
        }
        #expect(connection.first?.streamID == .rootStream && increment == (8 << 20) - 1000)
        let stream = try event(1, 100)
        guard case .windowUpdate(let streamIncrement)? = stream.first?.payload else {
            Issue.record("no stream credit: \(stream)")
            return
        }
        #expect(stream.first?.streamID == 1 && streamIncrement == (1 << 20) - 100)
        #expect(try event(3, 100).isEmpty, "no credit for a stream that is not open")
    }

    @Test func drainingSendsGoAwayAndClosesOnceTheCallsAreAnswered() throws {
        let channel = try Self.channel()
        try Self.send(channel, 1, headers: Self.headers(Self.metadataPath))
        _ = try Self.written(channel)
        channel.pipeline.fireUserInboundEventTriggered(GRPCDrainEvent())
        let goAway = try Self.written(channel)
        guard case .goAway(let last, let code, _)? = goAway.first?.payload else {
            Issue.record("no GOAWAY: \(goAway)")
            return
        }
        #expect(last == 1 && code == .noError)
        #expect(channel.isActive, "the open call keeps the connection")
        try Self.send(channel, 1, data: Self.framed(try Self.metadataRequest()))
        let final = try Self.written(channel)
        #expect(final.filter { $0.streamID == 1 }.count == 3, "the call is answered")
        guard case .goAway? = final.last?.payload else {
            Issue.record("no last GOAWAY: \(final)")
            return
        }
        #expect(!channel.isActive, "closed once the last call is answered")
    }

    /// Mutated and random frames (bodies cut anywhere, random prefixes and lengths, headers
    /// ending or not, resets) never trap, and a good call is answered after them; mutated
    /// Predict messages reach the model or get an RPCError. `LAMINA_FUZZ_SECONDS` runs longer.
    @Test func fuzzedCallsNeverCrashTheServer() async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["LAMINA_FUZZ_SECONDS"] ?? "") ?? 1
        var rng = RandomGenerator(seed: UInt64(ProcessInfo.processInfo.environment["LAMINA_FUZZ_SEED"] ?? "") ?? 11)
        func mutated(_ seed: [UInt8]) -> [UInt8] {
            var bytes = seed
            switch rng.next() % 4 {
            case 0: return (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                for _ in 0..<(1 + Int(rng.next() % 4)) where !bytes.isEmpty {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 2: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
            default:
                let at = Int(rng.next() % UInt64(bytes.count + 1))
                bytes.insert(contentsOf: (0..<Int(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            }
            return bytes
        }

        // Frames, on the connection handler.
        let channel = try Self.channel(maxRequestBytes: 4096)
        let seeds = [Array(Self.framed(try Self.metadataRequest()).readableBytesView),
                     Array(Self.framed(try { var r = Tensorflow_Serving_GetModelStatusRequest(); r.modelSpec.name = "mnist"; return r }().serializedBytes())
                        .readableBytesView)]
        let paths = [Self.metadataPath, "/tensorflow.serving.ModelService/GetModelStatus", "/x", "/tensorflow.serving.PredictionService/Predict"]
        let deadline = ContinuousClock.now + .seconds(seconds)
        var stream = 1, trials = 0, answered = 0
        while ContinuousClock.now < deadline || trials < 500 {
            trials += 1
            // Predict only with bodies that cannot decode (its answer comes from another thread).
            let path = paths[Int(rng.next() % UInt64(paths.count))]
            let body = path.hasSuffix("Predict") ? [0, 0, 0, 0, 2, 0xFF, 0xFF] : mutated(seeds[Int(rng.next() % 2)])
            try Self.send(channel, stream, headers: Self.headers(path), endStream: rng.next() % 16 == 0)
            var rest = ByteBuffer(bytes: body)
            while rest.readableBytes > 0 {
                let piece = rest.readSlice(length: 1 + Int(rng.next() % UInt64(rest.readableBytes)))!
                try Self.send(channel, stream, data: piece, endStream: rest.readableBytes == 0 && rng.next() % 8 != 0)
            }
            if rng.next() % 8 == 0 { try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .rstStream(.cancel))) }
            if try Self.written(channel).contains(where: { if case .headers(let h) = $0.payload { h.endStream } else { false } }) { answered += 1 }
            stream += 2
        }
        try Self.send(channel, stream, headers: Self.headers(Self.metadataPath))
        try Self.send(channel, stream, data: Self.framed(try Self.metadataRequest()))
        guard case .headers(let trailers)? = try Self.written(channel, stream: stream).last else {
            Issue.record("no answer after \(trials) fuzzed calls")
            return
        }
        #expect(trailers.headers.first(name: "grpc-status") == "0")
        #expect(answered > trials / 2, "\(answered) of \(trials) fuzzed calls answered")

        // Predict messages, through the service to the model.
        let model = Lamina.withRandomSeed(3) { Sequential([Input(shape: [4]), Dense(2)]) }
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let server = ModelServer(models: ["mnist": try model.inferenceModel()], configuration: .init(port: 0, maxBatch: 0), logger: quiet)
        let predictions = PredictionService(server: server)
        let good: [UInt8] = try predictRequest("mnist", ["input": tensorProto(Tensor(shape: [2, 4], scalars: (0..<8).map(Float.init)), content: true)])
            .serializedBytes()
        var predicted = 0, refused = 0, undecodable = 0
        let predictDeadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < predictDeadline || predicted + refused + undecodable < 2000 {
            guard let request = try? Tensorflow_Serving_PredictRequest(serializedBytes: mutated(good)) else {
                undecodable += 1
                continue
            }
            // Handed over under a lock, as the batcher's Mailbox does: ThreadSanitizer does not see a
            // continuation resumed from a foreign thread as a synchronization.
            let answer = Locked<Result<Tensorflow_Serving_PredictResponse, RPCError>?>(nil)
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                predictions.predict(request, on: MultiThreadedEventLoopGroup.singleton.next()) { result in
                    answer.withLock { $0 = result }
                    continuation.resume()
                }
            }
            switch answer.withLock({ $0 })! {
            case .success(let response):
                predicted += 1
                // Mutated values may be NaN or huge (answered as such, as TF Serving does); the shape holds.
                let values = response.outputs["output"].flatMap { try? floats($0) }
                #expect(values.map { !$0.isEmpty && $0.count % 2 == 0 } ?? false, "\(String(describing: response.outputs["output"]))")
            case .failure: refused += 1
            }
        }
        #expect(predicted > 0 && refused > 0, "predicted \(predicted), refused \(refused), undecodable \(undecodable)")
    }

    @Test func grpcMessagesArePercentEncoded() {
        #expect(GRPCConnectionHandler.percentEncoded("a 100% b\né") == "a 100%25 b%0A%C3%A9")
    }
}
