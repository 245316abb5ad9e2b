import Foundation
import ZFlowIO
import ZFlowTensor
import ZFlowTestSupport

/// One op family's fixture file written by tools/fixtures/ops.py (or, in Fixtures/grads,
/// tools/fixtures/grads.py): tensors `case/name` and the parameters of every case as JSON under
/// the metadata key "cases".
struct OpsFixture {
    let file: SafeTensorsFile
    let cases: [String: [String: Any]]

    init(_ family: String, folder: String = "ops") throws {
        guard let url = Bundle.module.url(forResource: family, withExtension: "safetensors", subdirectory: "Fixtures/\(folder)") else {
            throw FixtureError("fixture Fixtures/\(folder)/\(family).safetensors is missing; run tools/fixtures/\(folder).py")
        }
        file = try SafeTensorsFile(contentsOf: url)
        guard let json = file.metadata["cases"]?.data(using: .utf8),
              let cases = try JSONSerialization.jsonObject(with: json) as? [String: [String: Any]] else {
            throw FixtureError("\(url.path): metadata \"cases\" is not a JSON object of cases")
        }
        self.cases = cases
    }

    var caseNames: [String] { cases.keys.sorted() }

    func tensor(_ name: String, _ key: String) throws -> Tensor { try file.tensor("\(name)/\(key)") }

    /// nil when the case has no such tensor (an optional bias).
    func optionalTensor(_ name: String, _ key: String) throws -> Tensor? {
        file.shape(of: "\(name)/\(key)") == nil ? nil : try tensor(name, key)
    }

    func int(_ name: String, _ parameter: String) throws -> Int {
        guard let value = cases[name]?[parameter] as? Int else { throw FixtureError("case \(name): no integer \(parameter)") }
        return value
    }

    func float(_ name: String, _ parameter: String) throws -> Float {
        guard let value = cases[name]?[parameter] as? Double else { throw FixtureError("case \(name): no number \(parameter)") }
        return Float(value)
    }

    func bool(_ name: String, _ parameter: String) throws -> Bool {
        guard let value = cases[name]?[parameter] as? Bool else { throw FixtureError("case \(name): no boolean \(parameter)") }
        return value
    }

    func string(_ name: String, _ parameter: String) throws -> String {
        guard let value = cases[name]?[parameter] as? String else { throw FixtureError("case \(name): no string \(parameter)") }
        return value
    }

    /// Compares with the case's `out` under atol = relative * max|out| and rtol = relative, and
    /// prints the measured error as a `PARITY` line (docs/parity/ops.md is assembled from them).
    func check(_ actual: Tensor, _ name: String, op: String, relative: Float) throws -> ParityReport {
        let expected = try tensor(name, "out")
        let peak = expected.buffer.reduce(Float(0)) { max($0, abs($1)) }
        let report = compare(actual, expected, atol: relative * peak, rtol: relative, name: "\(op) \(name)")
        print("PARITY | \(op) | \(name) | \(expected.shape) | \(report.maxAbsError) | \(report.relativeToPeak) | \(relative) x max|ref| + \(relative) x |ref|")
        return report
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
