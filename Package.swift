// swift-tools-version:6.0
// TokenMill: corpus → byte-level BPE → FIM + packing → Megatron datasets → DeepSeek-V3-style MoE → bits per byte.
// Targets are listed in the order data flows through them.
import PackageDescription

let package = Package(
    name: "TokenMill",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CorpusIO", targets: ["CorpusIO"]),
        .library(name: "Normalization", targets: ["Normalization"]),
        .library(name: "Deduplication", targets: ["Deduplication"]),
        .library(name: "Tokenization", targets: ["Tokenization"]),
        .library(name: "FillInTheMiddle", targets: ["FillInTheMiddle"]),
        .library(name: "Packing", targets: ["Packing"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Report", targets: ["Report"]),
        .executable(name: "tokenmill", targets: ["tokenmill"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C shims (one per system library)
        .target(name: "CZstd", linkerSettings: [.linkedLibrary("zstd")]),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CLZMA", linkerSettings: [.linkedLibrary("lzma")]),  // xz baselines (liblzma-dev)
        .target(name: "CICU", linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icui18n"), .linkedLibrary("icudata")]),
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto")]),  // SHA-256 (libssl-dev)
        .target(name: "CKernels"),   // the trainer's element-wise row kernels, baseline and AVX2+FMA

        // MARK: Corpus → normalized text
        .target(name: "CorpusIO", dependencies: ["CZstd", "CZlib", "CCrypto"]),
        .target(name: "Normalization", dependencies: ["CorpusIO", "CICU"]),
        // Exact and MinHash near-duplicate removal, n-gram decontamination against test sets.
        .target(name: "Deduplication", dependencies: ["CorpusIO", "Normalization"]),

        // MARK: Text → tokens → training sequences
        .target(name: "Tokenization", dependencies: ["CorpusIO", "Normalization", "CICU"]),
        .target(name: "FillInTheMiddle", dependencies: ["CorpusIO"]),
        .target(name: "Packing", dependencies: ["Tokenization", "CorpusIO"]),
        // The stages above composed: one runner, typed manifests, progress; what the CLI and other programs call.
        .target(name: "Pipeline", dependencies: ["CorpusIO", "Normalization", "Deduplication", "Tokenization", "FillInTheMiddle", "Packing"]),

        // MARK: Model and evaluation
        .target(name: "Training", dependencies: ["CBLAS", "CKernels", "Packing"]),
        .target(name: "Evaluation", dependencies: ["CorpusIO", "Training", "Tokenization", "Pipeline", "CZstd", "CLZMA"]),
        // The demo's report.html and report.json, from the files the stages above wrote.
        .target(name: "Report", dependencies: ["CorpusIO", "Pipeline"]),

        // MARK: The command line
        .executableTarget(name: "tokenmill", dependencies: [
            "CorpusIO", "Normalization", "Deduplication", "Tokenization", "FillInTheMiddle", "Packing", "Pipeline", "Training", "Evaluation", "Report",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "TokenMillTestSupport", dependencies: ["CorpusIO", "CZstd", "CZlib"], path: "Sources/TokenMillTestSupport"),
        .testTarget(name: "CorpusIOTests", dependencies: ["CorpusIO", "CZstd", "CZlib", "TokenMillTestSupport"]),
        .testTarget(name: "NormalizationTests", dependencies: ["Normalization", "TokenMillTestSupport"]),
        .testTarget(name: "DeduplicationTests", dependencies: ["Deduplication", "CorpusIO", "TokenMillTestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "TokenMillTestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "CKernels", "Packing", "TokenMillTestSupport"]),
        .testTarget(name: "FillInTheMiddleTests", dependencies: ["FillInTheMiddle", "CorpusIO"]),
        .testTarget(name: "PackingTests", dependencies: ["Packing", "TokenMillTestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "CorpusIO", "Tokenization", "Packing", "TokenMillTestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Training", "TokenMillTestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "TokenMillTestSupport"]),
        .testTarget(name: "TokenMillCLITests", dependencies: ["CorpusIO", "Packing", "Training", "TokenMillTestSupport"]),
    ]
)
