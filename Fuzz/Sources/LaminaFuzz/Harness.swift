import Foundation
import Lamina
import LaminaKeras
@_spi(Fuzzing) import LaminaData
import LaminaServe

// One libFuzzer entry point for all readers; LAMINA_FUZZ_TARGET picks the reader:
// idx, npy, npz, csv, safetensors, model (Lamina model files), keras_config (`.keras` config.json),
// predict_request (lamina-serve's JSON request bodies), pickle and tar (the CIFAR/IMDB
// dataset formats), png, jpeg, bmp and gif (LaminaData's image decoders). A reader may throw LaminaError (the
// request parser: RequestError) on any input; anything
// else (a trap, an out-of-bounds access found by ASan) is a bug.

let scratchFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lamina-fuzz-\(getpid()).npz")
nonisolated(unsafe) let target = ProcessInfo.processInfo.environment["LAMINA_FUZZ_TARGET"] ?? "npy"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        switch target {
        case "idx": _ = try IDX.parse(bytes, name: "fuzz")
        case "npy": _ = try NumPy.parseNPY(bytes, name: "fuzz")
        case "npz":
            // ZIPFoundation reads archives from files (its in-memory archive leaks on damaged input).
            try Data(bytes).write(to: scratchFile)
            _ = try NumPy.loadArchive(scratchFile)
        case "pickle": try DatasetFormats.fuzzPickle(bytes)
        case "tar": _ = try DatasetFormats.fuzzTar(bytes)
        case "csv": _ = try CSV.parse(String(decoding: bytes, as: UTF8.self), name: "fuzz")
        case "safetensors": _ = try Safetensors.decode(bytes, name: "fuzz")
        case "model": _ = try Sequential.load(bytes: bytes, name: "fuzz", restoreRandomState: false)
        case "keras_config":
            _ = try LayerRegistry.$weightElementLimit.withValue(1 << 20) {
                try KerasFile.model(fromConfigJSON: bytes, file: "fuzz")
            }
        case "predict_request":
            _ = try? PredictRequest.parse(bytes, inputNames: ["input", "b"], inputShapes: [[2, 3], []])
            _ = try PredictRequest.parse(bytes, inputShape: [2, 3])
        case "png", "jpeg", "bmp", "gif": _ = try ImageDecoder.decode(bytes, channels: [1, 3, 4][bytes.count % 3])
        default: fatalError("unknown LAMINA_FUZZ_TARGET \(target)")
        }
    } catch is RequestError {
        // expected for malformed requests
    } catch is LaminaError {
        // expected for malformed input
    } catch {
        fatalError("\(target): a reader threw a non-Lamina error: \(error)")
    }
    return 0
}

// SwiftPM links executables with an entry point named after the target; hand it to
// libFuzzer's driver (libFuzzer's own `main` is not used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("lamina_fuzz_main")
public func laminaFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
