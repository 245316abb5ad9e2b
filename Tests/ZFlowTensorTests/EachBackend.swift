import Foundation
import Testing
@testable import ZFlowTensor

/// Runs `body` with each backend forced for the ops it starts. oneDNN is skipped where it is absent,
/// unless ZFLOW_REQUIRE_ONEDNN=1 (set by .ci/run, which installs it), so CI cannot pass by skipping.
func onEachBackend(_ body: (KernelBackend) throws -> Void) throws {
    for backend in KernelBackend.allCases {
        guard try canTest(backend) else { continue }
        try KernelTuner.$scopedBackend.withValue(backend) { try body(backend) }
    }
}

/// Whether `backend` runs here; false (skip) where it is absent, a failed requirement instead under
/// ZFLOW_REQUIRE_ONEDNN=1.
func canTest(_ backend: KernelBackend) throws -> Bool {
    guard backend.isAvailable else {
        let required = ProcessInfo.processInfo.environment["ZFLOW_REQUIRE_ONEDNN"] == "1"
        try #require(!required, "\(backend) is required here but unavailable: \(backend.libraryDescription)")
        return false
    }
    return true
}
