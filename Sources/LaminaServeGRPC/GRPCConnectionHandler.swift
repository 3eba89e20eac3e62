import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf

/// The gRPC methods served, by their HTTP/2 `:path`.
enum GRPCMethod: Sendable {
    case predict, modelMetadata, modelStatus

    init?(path: String) {
        switch path {
        case "/tensorflow.serving.PredictionService/Predict": self = .predict
        case "/tensorflow.serving.PredictionService/GetModelMetadata": self = .modelMetadata
        case "/tensorflow.serving.ModelService/GetModelStatus": self = .modelStatus
        default: return nil
        }
    }
}

/// What a connection answers with: the two services and the request size limit.
struct GRPCEndpoints: Sendable {
    let predictions: PredictionService
    let models: ModelService
    let maxRequestBytes: Int
    /// The flow-control window each stream starts with (a SETTINGS value) and is topped up to.
    let streamWindow: Int
    /// The connection's flow-control window, topped up as requests are read.
    let connectionWindow: Int
}

/// Asks a connection to finish its calls and close (graceful shutdown).
struct GRPCDrainEvent: Sendable {}

/// Unary gRPC over the frames of one HTTP/2 connection, with no channel or Swift task per call.
///
/// `NIOHTTP2Handler` before it in the pipeline parses and writes the frames (HPACK, stream
/// states, SETTINGS and PING acknowledgements, outbound flow control); this handler keeps each
/// open stream's request bytes, answers a complete request where it can (metadata and status at
/// once, Predict through the model's batcher, whose thread hands the outputs back to this
/// event loop) and grants inbound flow-control credit as it reads. A call is the gRPC protocol's
/// HEADERS (`:method POST`, `content-type application/grpc`), one length-prefixed message and
/// END_STREAM; the answer is HEADERS, one message and the `grpc-status` trailers, or the trailers
/// alone for an error.
///
/// Compressed messages are answered UNIMPLEMENTED (the server announces `grpc-accept-encoding:
/// identity`), messages over `maxRequestBytes` RESOURCE_EXHAUSTED as soon as their length prefix
/// arrives. A client's `grpc-timeout` is not enforced here: the client's own deadline cancels the
/// call (RST_STREAM), after which its answer is dropped.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// A stream being read or awaiting its answer (removed once answered, reset or closed; what
    /// still arrives on it is dropped).
    private struct Call {
        let method: GRPCMethod
        var body: ByteBuffer
        /// The client has sent END_STREAM.
        var ended: Bool
    }

    private let endpoints: GRPCEndpoints
    /// Open streams, those waiting for the batcher included (an answer for a stream no longer
    /// here, reset or closed, is dropped).
    private var calls: [HTTP2StreamID: Call] = [:]
    private var highestStream = HTTP2StreamID(0)
    private var grantedConnectionWindow = false
    private var draining = false
    private var closing = false
    private var context: ChannelHandlerContext?

    init(endpoints: GRPCEndpoints) { self.endpoints = endpoints }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if frame.streamID > highestStream {
                open(frame.streamID, headers.headers, ended: headers.endStream, context: context)
            } else if headers.endStream {
                ended(frame.streamID, context: context)   // trailers from the client
            }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data, calls[frame.streamID] != nil else { return }
            if calls[frame.streamID]!.body.readableBytes == 0 {
                calls[frame.streamID]!.body = bytes   // most requests come in one DATA frame: no copy
            } else {
                calls[frame.streamID]!.body.writeBuffer(&bytes)
            }
            checkPrefix(frame.streamID, context: context)
            if payload.endStream { ended(frame.streamID, context: context) }
        case .rstStream:
            calls[frame.streamID] = nil
            closeIfDrained(context: context)
        default:
            break   // SETTINGS, PING, GOAWAY, WINDOW_UPDATE and PRIORITY are NIOHTTP2Handler's
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as NIOHTTP2WindowUpdatedEvent:
            grantCredit(event, context: context)
        case let event as StreamClosedEvent:
            calls[event.streamID] = nil
            closeIfDrained(context: context)
        case is GRPCDrainEvent:
            guard !draining else { return }
            draining = true
            context.writeAndFlush(wrapOutboundOut(goAway()), promise: nil)
            closeIfDrained(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOHTTP2Errors.StreamError {
            calls[error.streamID] = nil   // NIOHTTP2Handler has reset the stream
            closeIfDrained(context: context)
        } else {
            context.close(promise: nil)   // a connection error: NIOHTTP2Handler has sent GOAWAY
        }
    }

    // MARK: - Requests

    private func open(_ stream: HTTP2StreamID, _ headers: HPACKHeaders, ended: Bool, context: ChannelHandlerContext) {
        highestStream = stream
        if !grantedConnectionWindow {
            // The connection window starts at 64 KiB whatever the SETTINGS say; raise it once.
            grantedConnectionWindow = true
            if endpoints.connectionWindow > 65535 {
                context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: endpoints.connectionWindow - 65535))),
                              promise: nil)
            }
        }
        let path = headers.first(name: ":path") ?? ""
        let method = GRPCMethod(path: path)
        calls[stream] = Call(method: method ?? .predict, body: ByteBuffer(), ended: ended)   // until answered below
        guard headers.first(name: ":method") == "POST" else {
            return endWithHeaders(stream, [":status": "405"], context: context)
        }
        guard let contentType = headers.first(name: "content-type"), contentType.hasPrefix("application/grpc") else {
            return endWithHeaders(stream, [":status": "415"], context: context)
        }
        guard method != nil else {
            return writeStatus(stream, RPCError(code: .unimplemented, message: "Method not found: \(path)"), context: context)
        }
        if let encoding = headers.first(name: "grpc-encoding"), encoding != "identity" {
            return writeStatus(stream, RPCError(code: .unimplemented, message: "compression '\(encoding)' is not supported; send identity"), context: context)
        }
        if ended { complete(stream, context: context) }
    }

    /// Refuses a message over the limit, or a compressed one, as soon as its prefix is in.
    private func checkPrefix(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls[stream], let (compressed, length) = Self.prefix(call.body) else { return }
        if compressed {
            writeStatus(stream, RPCError(code: .unimplemented, message: "compressed messages are not supported; send identity"), context: context)
        } else if length > endpoints.maxRequestBytes {
            writeStatus(stream, RPCError(code: .resourceExhausted,
                                         message: "the request message of \(length) bytes is larger than the limit of \(endpoints.maxRequestBytes)"),
                        context: context)
        } else if call.body.readableBytes > 5 + length {
            writeStatus(stream, RPCError(code: .invalidArgument, message: "a unary call takes one request message"), context: context)
        }
    }

    /// The gRPC length prefix at the start of `body` (nil until its 5 bytes are in).
    private static func prefix(_ body: ByteBuffer) -> (compressed: Bool, length: Int)? {
        guard let flag = body.getInteger(at: body.readerIndex, as: UInt8.self),
              let length = body.getInteger(at: body.readerIndex + 1, as: UInt32.self) else { return nil }
        return (flag != 0, Int(length))
    }

    private func ended(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard calls[stream] != nil else { return }
        calls[stream]!.ended = true
        complete(stream, context: context)
    }

    /// Answers a call whose request is all in.
    private func complete(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard var call = calls[stream] else { return }
        guard let (_, length) = Self.prefix(call.body), call.body.readableBytes == 5 + length,
              let message = call.body.getBytes(at: call.body.readerIndex + 5, length: length) else {
            return writeStatus(stream, RPCError(code: .invalidArgument, message: "the call ended without a complete request message"), context: context)
        }
        call.body = ByteBuffer()   // the bytes are copied out; let the buffer go
        calls[stream] = call
        do {
            switch call.method {
            case .predict:
                let request = try decode(Tensorflow_Serving_PredictRequest.self, message)
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                endpoints.predictions.predict(request, on: context.eventLoop) { result in
                    handler.value.answer(stream, result.flatMap(Self.serialize))
                }
            case .modelMetadata:
                answer(stream, Self.serialize(try endpoints.predictions.metadata(decode(Tensorflow_Serving_GetModelMetadataRequest.self, message))))
            case .modelStatus:
                answer(stream, Self.serialize(try endpoints.models.status(decode(Tensorflow_Serving_GetModelStatusRequest.self, message))))
            }
        } catch {
            answer(stream, .failure(error))
        }
    }

    private func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ bytes: [UInt8]) throws(RPCError) -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "cannot parse the \(M.protoMessageName) message: \(error)")
        }
    }

    private static func serialize(_ message: some SwiftProtobuf.Message) -> Result<[UInt8], RPCError> {
        do {
            return .success(try message.serializedBytes())
        } catch {
            return .failure(RPCError(code: .internalError, message: "cannot serialize the response: \(error)"))
        }
    }

    // MARK: - Answers

    private static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    private static let okTrailers: HPACKHeaders = ["grpc-status": "0"]

    /// Writes a call's answer if its stream is still open (a cancelled call's is dropped).
    private func answer(_ stream: HTTP2StreamID, _ result: Result<[UInt8], RPCError>) {
        guard let context else { return }
        defer { closeIfDrained(context: context) }
        guard calls[stream] != nil else { return }
        switch result {
        case .success(let message):
            var buffer = context.channel.allocator.buffer(capacity: 5 + message.count)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(message.count))
            buffer.writeBytes(message)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: Self.responseHeaders)))), promise: nil)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(buffer))))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: Self.okTrailers, endStream: true)))),
                                  promise: nil)
            calls[stream] = nil
        case .failure(let error):
            writeStatus(stream, error, context: context)
        }
    }

    /// A trailers-only answer: the status and message in the one HEADERS frame that ends the stream.
    private func writeStatus(_ stream: HTTP2StreamID, _ error: RPCError, context: ChannelHandlerContext) {
        let headers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc", "grpc-accept-encoding": "identity",
            "grpc-status": String(error.code.rawValue), "grpc-message": Self.percentEncoded(error.message),
        ]
        endWithHeaders(stream, headers, context: context)
    }

    private func endWithHeaders(_ stream: HTTP2StreamID, _ headers: HPACKHeaders, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        if let call = calls[stream], !call.ended {
            // The client is still sending: tell it to stop (RFC 9113 §8.1), without an error.
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .rstStream(.noError))), promise: nil)
        }
        calls[stream] = nil
        context.flush()
    }

    /// `grpc-message`'s encoding: bytes outside printable ASCII, and `%`, as `%XX`.
    static func percentEncoded(_ message: String) -> String {
        var out = ""
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += (byte < 16 ? "%0" : "%") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }

    // MARK: - Flow control and draining

    /// Tops a window back up once it falls to half its target, as NIO's stream channels do.
    private func grantCredit(_ event: NIOHTTP2WindowUpdatedEvent, context: ChannelHandlerContext) {
        guard let size = event.inboundWindowSize else { return }
        let target: Int
        if event.streamID == .rootStream {
            target = endpoints.connectionWindow
        } else {
            guard let call = calls[event.streamID], !call.ended else { return }
            target = endpoints.streamWindow
        }
        guard size <= target / 2 else { return }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: event.streamID, payload: .windowUpdate(windowSizeIncrement: target - size))),
                              promise: nil)
    }

    /// While draining, closes the connection once no call is left, after a last GOAWAY has
    /// gone out (its write completes after every answer before it: none is cut off).
    private func closeIfDrained(context: ChannelHandlerContext) {
        guard draining, !closing, calls.isEmpty else { return }
        closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(goAway()), promise: written)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func goAway() -> HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStream, errorCode: .noError, opaqueData: nil))
    }
}
