import Foundation

// lamina-bench: runs the standard workloads and prints one JSON line per result.
// Usage: swift run -c release lamina-bench [--workloads gemm,elementwise,conv] [--gemm-sizes 256,1024]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let workloads = Set((option("--workloads") ?? "gemm,elementwise,conv").split(separator: ",").map(String.init))
let gemmSizes = (option("--gemm-sizes") ?? "256,512,1024,2048").split(separator: ",").compactMap { Int($0) }

if workloads.contains("gemm") { benchGemm(sizes: gemmSizes) }
if workloads.contains("elementwise") { benchElementwise() }
if workloads.contains("conv") { benchConv() }
