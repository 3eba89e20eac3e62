import ArgumentParser
import Foundation
import Lamina
import LaminaData

// lamina-bench: runs the standard workloads and prints one JSON line per result.
//   swift run -c release lamina-bench [--workloads gemm,mlp_mnist,cnn_mnist,lstm,gan,inference,resnet50,mobilenetv2,transformer]
//                                     [--data-dir DIR] [--gemm-sizes 256,1024]
// Also: elementwise and conv (kernel micro-benchmarks), inference_untrained (inference
// timings on a fresh CNN, for profiling), and cnn_mmap / cnn_in_memory / mlp_mmap /
// mlp_in_memory [--npy-dir DIR] [--samples N] [--npy-reads positioned|mapped|mapped-release]
// [--read-ahead] (one epoch of the convnet or the MLP on MNIST ×10 from memory-mapped .npy files through a
// prefetching Dataset, or from tensors; made by make_big_mnist.py; not in the default set),
// image_folder [--image-dir DIR] (decode + resize + flip + batch over a folder of JPEGs, beside
// Benchmarks/peers/image_folder_bench.py), and cnn_data_parallel [--samples N] (the convnet under DataParallel; run under mpirun by
// Benchmarks/mpi_bench.sh). The model workloads follow
// Benchmarks/peers/*.py exactly; Benchmarks/compare.py runs them side by side.

/// The command line (swift-argument-parser).
struct BenchOptions: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lamina-bench",
                                                    abstract: "Runs Lamina's benchmark workloads; prints one JSON line per result.")
    @Option(help: "Comma-separated workloads (default: all but cnn_mmap and cnn_in_memory).") var workloads: String?
    @Option(name: .customLong("data-dir"), help: "Folder with the MNIST files.") var dataDir: String?
    @Option(name: .customLong("gemm-sizes"), help: "Comma-separated GEMM sizes.") var gemmSizes = "256,512,1024,2048"
    @Option(name: .customLong("npy-dir"), help: "Folder with x.npy and y.npy for cnn_mmap / cnn_in_memory.") var npyDir = "/tmp/lamina-big-mnist"
    @Option(help: "Use only the first N samples in cnn_mmap / cnn_in_memory / mlp_mmap / mlp_in_memory / cnn_data_parallel.") var samples: Int?
    @Option(name: .customLong("npy-reads"), help: "How cnn_mmap / mlp_mmap read rows: positioned, mapped (no release) or mapped-release.") var npyReads = "positioned"
    @Option(name: .customLong("image-dir"), help: "Folder of class subfolders of JPEGs for image_folder (Benchmarks/peers/image_folder_bench.py makes it).") var imageDir = "/tmp/lamina-image-folder"
    @Flag(name: .customLong("read-ahead"), help: "cnn_mmap / mlp_mmap: ask the kernel for the next batch's rows ahead.") var readAhead = false
}
let options = BenchOptions.parseOrExit()
let all = ["gemm", "gemm-table", "elementwise", "conv", "recurrent", "mlp_mnist", "cnn_mnist", "lstm", "gan", "inference", "inference_untrained", "resnet50", "mobilenetv2", "transformer",
           "cnn_mmap", "cnn_in_memory", "mlp_mmap", "mlp_in_memory", "image_folder", "cnn_data_parallel"]
let workloads = (options.workloads ?? all.dropLast(6).filter { $0 != "gemm-table" }.joined(separator: ",")).split(separator: ",").map(String.init)
for w in workloads where !all.contains(w) {
    FileHandle.standardError.write(Data("unknown workload \(w); choose from \(all.joined(separator: ", "))\n".utf8))
    exit(2)
}
// What runs: the CPU, the BLAS and its kernel set, Lamina's SIMD level (and why each).
FileHandle.standardError.write(Data("lamina-bench on:\n\(ComputeBackend.current)\n".utf8))

let gemmSizes = options.gemmSizes.split(separator: ",").compactMap { Int($0) }

if workloads.contains("gemm") { benchGemm(sizes: gemmSizes) }
if workloads.contains("gemm-table") { try benchGemmTable() }
if workloads.contains("elementwise") { benchElementwise() }
if workloads.contains("conv") { benchConv() }
if workloads.contains("recurrent") { benchRecurrent() }
for w in ["resnet50", "mobilenetv2"] where workloads.contains(w) { try benchImageModel(w) }
if workloads.contains("transformer") { try benchTransformer() }

for w in workloads where ["cnn_mmap", "cnn_in_memory", "mlp_mmap", "mlp_in_memory"].contains(w) {
    do {
        let reads: MemoryMappedNumPy.Reads
        switch options.npyReads {
        case "positioned": reads = .positioned
        case "mapped": reads = .mapped(releaseBytes: nil)
        case "mapped-release": reads = .mapped(releaseBytes: MemoryMappedNumPy.releaseBytes)
        default: throw LaminaError.value("--npy-reads: positioned, mapped or mapped-release, got \(options.npyReads)")
        }
        try benchOutOfCore(w, directory: options.npyDir, fromMemory: w.hasSuffix("in_memory"), limit: options.samples,
                           reads: reads, readAhead: options.readAhead)
    } catch {
        FileHandle.standardError.write(Data("lamina-bench: \(error)\n".utf8))
        exit(1)
    }
}

if workloads.contains("image_folder") {
    do { try benchImageFolder(directory: options.imageDir) } catch {
        FileHandle.standardError.write(Data("lamina-bench: \(error)\n".utf8))
        exit(1)
    }
}

let modelWorkloads = workloads.filter { ["mlp_mnist", "cnn_mnist", "lstm", "gan", "inference", "inference_untrained",
                                         "cnn_data_parallel"].contains($0) }
if !modelWorkloads.isEmpty {
    let data: MNISTData
    do {
        data = try MNISTData(directory: options.dataDir)
    } catch {
        FileHandle.standardError.write(Data("lamina-bench: \(error)\n".utf8))
        exit(1)
    }
    var cnn: Sequential?
    for w in modelWorkloads {
        switch w {
        case "mlp_mnist":
            let (x, xt) = data.shaped([784])
            try benchFitOneEpoch(w, reps: 3, build: mlpModel, x: x, y: data.yTrain, xTest: xt, yTest: data.yTest)
        case "cnn_mnist", "inference":  // inference trains the CNN first if cnn_mnist did not
            if w == "cnn_mnist" || cnn == nil {
                let (x, xt) = data.shaped([28, 28, 1])
                cnn = try benchFitOneEpoch("cnn_mnist", reps: 1, build: cnnModel, x: x, y: data.yTrain, xTest: xt, yTest: data.yTest)
            }
            if w == "inference" { try benchInference(cnn!, data.shaped([28, 28, 1]).1, data.yTest) }
        case "lstm":
            let (x, xt) = data.shaped([28, 28])
            try benchFitOneEpoch(w, reps: 1, build: lstmModel, x: x, y: data.yTrain, xTest: xt, yTest: data.yTest)
        case "gan":
            try benchGAN(data)
        case "cnn_data_parallel":
            try benchDataParallel(data, samples: options.samples)
        case "inference_untrained":  // the same timings without training first (for profiling)
            Lamina.setRandomSeed(seed)
            try benchInference(cnnModel(), data.shaped([28, 28, 1]).1, data.yTest)
        default: break
        }
    }
}
