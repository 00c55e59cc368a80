// swift-tools-version: 6.0
// ExpertLock: measure and harden the prunability of Mixture-of-Experts language models.
import Foundation
import PackageDescription

// The numeric core is compiled for the CPU that builds it (`-target-cpu native`): its SIMD8 kernels
// (softmax exp, SwiGLU, norms, gathers) then use 256-bit AVX registers instead of the x86-64
// baseline's 128-bit SSE, which profiling config B showed spending 2.5 ns per exp. ExpertLock is
// built from source where it runs (Linux; Apple silicon has no wider registers to gain);
// EXPERTLOCK_PORTABLE=1 builds for the baseline instead (a binary to copy to other machines). Lane
// arithmetic is the same either way, so results do not change.
let nativeCPU: [String] =
    ProcessInfo.processInfo.environment["EXPERTLOCK_PORTABLE"] == "1" ? [] : ["-target-cpu", "native"]

let package = Package(
    name: "ExpertLock",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "MoEModels", targets: ["MoEModels"]),
        .library(name: "ExpertLock", targets: ["ExpertLock"]),
        // The built-in corpus and `expertlock demo`, over the library's own types.
        .library(name: "ExpertLockDemo", targets: ["ExpertLockDemo"]),
        // The executable target is named ExpertLockCLI (not `expertlock`): on a case-insensitive
        // file system Sources/expertlock and Sources/ExpertLock would be the same folder.
        .executable(name: "expertlock", targets: ["ExpertLockCLI"]),
        // Mutation fuzzer over every parser (fuzz/README.md).
        .executable(name: "expertlock-fuzz", targets: ["ExpertLockFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 and Ed25519 for the signed model manifest and update log (Defenses).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // AVX-512 (BF16) matrix-product kernels in C, chosen at run time; on other CPUs TensorCore's portable
        // path runs. Optimised in debug builds too, like TensorCore (tests run the kernels at real sizes).
        .target(name: "CTensorKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "TensorCore",
            dependencies: ["CTensorKernels"],
            swiftSettings: [
                .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
                // Debug builds optimise the numeric core too (-O after SwiftPM's -Onone wins): its
                // eight-lane SIMD kernels run 10-20x slower unoptimised than even scalar loops, which
                // made the debug test suite 5x slower. Assertions and preconditions stay on (-O, not
                // -Ounchecked); the other targets and the tests stay -Onone and debuggable.
                .unsafeFlags(["-O"], .when(configuration: .debug)),
                .unsafeFlags(nativeCPU, .when(platforms: [.linux])),
            ]
        ),
        .target(name: "MoEModels", dependencies: ["TensorCore"]),
        .target(
            name: "ExpertLock",
            dependencies: ["TensorCore", "MoEModels", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "ExpertLockDemo",
            dependencies: ["TensorCore", "MoEModels", "ExpertLock", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "ExpertLockCLI",
            dependencies: [
                "TensorCore", "MoEModels", "ExpertLock", "ExpertLockDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "ExpertLockFuzz",
            dependencies: [
                "TensorCore", "MoEModels", "ExpertLock", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MoEModelsTests", dependencies: ["MoEModels", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ExpertLockTests",
            dependencies: [
                "ExpertLock", "ExpertLockDemo", "MoEModels", "TensorCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "ExpertLockCLITests", dependencies: ["ExpertLockCLI"]),
    ]
)
