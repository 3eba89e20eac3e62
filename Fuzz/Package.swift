// swift-tools-version:6.0
// libFuzzer harnesses for every reader Lamina owns. Build and run (see Fuzz/README.md):
//   bash Fuzz/run.sh 60
import PackageDescription

let package = Package(
    name: "LaminaFuzz",
    platforms: [.macOS(.v15)],
    // `.deps/Lamina` is a link to the repository made by run.sh, so the dependency's identity
    // is "Lamina" whatever the checkout's folder is called.
    dependencies: [.package(path: ".deps/Lamina")],
    targets: [
        .executableTarget(name: "lamina-fuzz", dependencies: [.product(name: "Lamina", package: "Lamina"),
                                                                  .product(name: "LaminaKeras", package: "Lamina"),
                                                                  .product(name: "LaminaServe", package: "Lamina"),
                                                                  .product(name: "LaminaData", package: "Lamina")],
                          path: "Sources/LaminaFuzz"),
    ]
)
