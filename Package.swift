// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Kernels are compiled optimized even in debug builds: parity tests run real
// model-sized math, and -Onone loops are ~50x slower.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"] + hostCPUFlags())] + (hostCPUFlags().contains("skylake-avx512") ? [.define("ZFLOW_AVX512")] : [])

/// Code generation for the building machine's vector units, as llama.cpp's GGML_NATIVE does:
/// without it x86-64 code is SSE2-only and every SIMD fused multiply-add is a libm call.
/// `ZFLOW_TARGET_CPU=x86-64` (or any LLVM CPU name) overrides it, e.g. for portable binaries.
func hostCPUFlags() -> [String] {
    let environment = Context.environment
    if let cpu = environment["ZFLOW_TARGET_CPU"], !cpu.isEmpty { return ["-target-cpu", cpu] }
    #if arch(x86_64) && os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(line.split(separator: " ").map(String.init))
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]) { return ["-target-cpu", "skylake-avx512"] }
    if flags.isSuperset(of: ["avx2", "fma", "bmi2", "f16c"]) { return ["-target-cpu", "haswell"] }
    #endif
    return []
}

let package = Package(
    name: "ZFlow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zflow", targets: ["zflow"]),
        // Dynamic so that plugins and the zflow host share one copy of ZFlowGraph's types.
        .library(name: "ZFlowGraph", type: .dynamic, targets: ["ZFlowGraph"]),
        // Dynamic for the same reason: plugins whose nodes compute on tensors.
        .library(name: "ZFlowTensor", type: .dynamic, targets: ["ZFlowTensor"]),
        // Dynamic for fusion plugins: they register a FusionStrategy into the host's FusionRegistry.shared.
        .library(name: "ZFlowModels", type: .dynamic, targets: ["ZFlowModels"]),
        .library(name: "ZFlowNodes", targets: ["ZFlowNodes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C shims: the only places that see C libraries (BLAS is loaded at run time, see CBLAS).
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        // oneDNN, also loaded at run time: built against libdnnl-dev's headers when present.
        .target(name: "CDNNL", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),

        // Numerics: tensors and ops, on kernels chosen per shape among ZFlow's own, OpenBLAS and oneDNN.
        .target(name: "ZFlowTensor", dependencies: ["CBLAS", "CDNNL"], swiftSettings: optimized),
        // Outside data: safetensors, PyTorch checkpoints.
        .target(name: "ZFlowIO", dependencies: ["ZFlowTensor"], swiftSettings: optimized),
        // Images: PNG/JPEG codecs, Pillow-exact resampling.
        .target(name: "ZFlowImage", dependencies: ["ZFlowTensor", "ZFlowIO", "CImageCodecs"], swiftSettings: optimized),
        // Stable Diffusion v1 components and LD-ZNet.
        .target(name: "ZFlowModels", dependencies: ["ZFlowTensor", "ZFlowIO"],
                resources: [.copy("CLIP/Resources/clip-merges.txt"), .copy("CLIP/Resources/clip-merges.LICENSE")], swiftSettings: optimized),
        // Training: parameter trees, initialisation, optimizers, EMA, training checkpoints.
        .target(name: "ZFlowTrain", dependencies: ["ZFlowTensor", "ZFlowIO", "ZFlowModels"], swiftSettings: optimized),
        // `zflow train`: runs a graph's frozen part through the engine, trains its ZNet on a tape.
        .target(name: "ZFlowTraining", dependencies: ["ZFlowBatch", "ZFlowData", "ZFlowEval", "ZFlowGraph", "ZFlowImage", "ZFlowIO",
                                                      "ZFlowModels", "ZFlowNodes", "ZFlowTensor", "ZFlowTrain"]),
        // `zflow probe` (the paper's Fig. 4): SD taps x timesteps to a disk feature store, one small
        // text-conditioned decoder per cell trained in one pass over it, AP per cell.
        .target(name: "ZFlowProbe", dependencies: ["ZFlowBatch", "ZFlowEval", "ZFlowGraph", "ZFlowIO", "ZFlowImage", "ZFlowModels",
                                                   "ZFlowNodes", "ZFlowTensor", "ZFlowTrain"]),
        // Evaluation metrics (CLIPSeg protocol), dataset manifests, shards: no graph, no images.
        .target(name: "ZFlowEval", dependencies: ["ZFlowTensor"]),
        // Synthetic datasets (scenes of named shapes, phrases, exact masks): no graph, no models.
        .target(name: "ZFlowData", dependencies: ["ZFlowImage"]),
        // Batch runs of graphs: eval over datasets, sweeps, shards and merges, the HTML report.
        .target(name: "ZFlowBatch", dependencies: ["ZFlowEval", "ZFlowGraph", "ZFlowImage", "ZFlowIO", "ZFlowTensor"]),
        // The graph engine: knows nothing about tensors or models.
        .target(name: "ZFlowGraph", swiftSettings: optimized),
        // Node plugins: the only place models meet the graph.
        .target(name: "ZFlowNodes", dependencies: ["ZFlowGraph", "ZFlowModels", "ZFlowImage", "ZFlowIO", "ZFlowTensor"]),
        .executableTarget(
            name: "zflow",
            dependencies: ["ZFlowGraph", "ZFlowNodes", "ZFlowBatch", "ZFlowData", "ZFlowTraining", "ZFlowProbe", "ZFlowEval", "ZFlowIO", "ZFlowTensor", "ZFlowModels",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // Exports the host's ZFlowGraph, ZFlowTensor and ZFlowModels symbols so that `--plugin` libraries bind to them.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"], .when(platforms: [.linux]))]),
        .executableTarget(
            name: "zflow-bench",
            dependencies: ["CBLAS", "ZFlowTensor", "ZFlowModels", "ZFlowIO", "ZFlowGraph", "ZFlowNodes", "ZFlowTrain",
                           "ZFlowTraining"], swiftSettings: optimized),

        // Shared test helpers: tolerance assertions and fixture loading.
        .target(name: "ZFlowTestSupport", dependencies: ["ZFlowTensor", "ZFlowIO"], path: "Tests/ZFlowTestSupport"),
        .testTarget(name: "ZFlowTensorTests", dependencies: ["ZFlowTensor", "ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowIOTests", dependencies: ["ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowImageTests", dependencies: ["ZFlowImage", "ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowModelsTests", dependencies: ["ZFlowModels", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowNodesTests",
                    dependencies: ["ZFlowNodes", "ZFlowGraph", "ZFlowIO", "ZFlowImage", "ZFlowTensor", "ZFlowTestSupport"]),
        .testTarget(name: "ZFlowTrainTests", dependencies: ["ZFlowTrain", "ZFlowTensor", "ZFlowIO", "ZFlowModels", "ZFlowTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowTrainingTests", dependencies: ["ZFlowTraining", "ZFlowTrain", "ZFlowBatch", "ZFlowData",
                                                             "ZFlowEval", "ZFlowGraph", "ZFlowIO", "ZFlowModels", "ZFlowNodes",
                                                             "ZFlowTensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowProbeTests", dependencies: ["ZFlowProbe", "ZFlowBatch", "ZFlowData", "ZFlowEval", "ZFlowGraph",
                                                          "ZFlowIO", "ZFlowImage", "ZFlowNodes", "ZFlowTensor", "ZFlowTrain"]),
        .testTarget(name: "ZFlowEvalTests", dependencies: ["ZFlowEval", "ZFlowIO", "ZFlowTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowDataTests", dependencies: ["ZFlowData", "ZFlowBatch", "ZFlowEval", "ZFlowGraph", "ZFlowImage"]),
        .testTarget(name: "ZFlowBatchTests", dependencies: ["ZFlowBatch", "ZFlowEval", "ZFlowGraph", "ZFlowNodes", "ZFlowTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowGraphTests", dependencies: ["ZFlowGraph"], resources: [.copy("Fixtures")]),
        // examples/plugin's sources built into the test process, so that tests reach its code (the
        // fusion's gradients); zflow loads the same files as a dynamic library (ZFlowCLITests).
        .target(name: "ZFlowExamplePluginSources", dependencies: ["ZFlowGraph", "ZFlowTensor", "ZFlowModels"],
                path: "examples/plugin/Sources/ZFlowExamplePlugin"),
        .testTarget(name: "ZFlowExamplePluginTests", dependencies: ["ZFlowExamplePluginSources", "ZFlowModels", "ZFlowTensor",
                                                                  "ZFlowIO", "ZFlowTrain"]),
        // Runs the built zflow binary: help/catalogue goldens, exit codes, the plugin example.
        .testTarget(name: "ZFlowCLITests", dependencies: ["ZFlowIO", "ZFlowImage", "ZFlowTensor"], resources: [.copy("Fixtures")]),
    ]
)
