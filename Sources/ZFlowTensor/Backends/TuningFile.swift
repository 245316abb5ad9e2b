import CBLAS
import CDNNL
import Foundation

/// The recorded winners of one machine: `{"format": 1, "machine": {...}, "choices": {"gemm
/// 4096x4096x4096 NN": {"winner": "own", "gflops": {"own": 430.1, "openblas": 241.0}}}}`.
public struct TuningFile: Codable, Equatable, Sendable {
    public struct Choice: Codable, Equatable, Sendable {
        /// The winning candidate's name: a backend ("own", "openblas", "onednn") or, for a choice
        /// among ZFlow's own algorithms, the algorithm ("winograd", "im2col").
        public var winner: String
        /// Measured rate of each candidate (2 x multiply-adds per second / 1e9).
        public var gflops: [String: Double]
        /// The share of the machine's CPU time that other work used while the candidates were
        /// timed (`CPUTimeSnapshot`); absent in older files and where /proc cannot be read.
        public var othersShare: Double?

        /// Above this share the timing is not trusted beyond this process: `zflow tune` times it again.
        public static let busyShare = 0.25

        public var timedOnBusyMachine: Bool { (othersShare ?? 0) > Choice.busyShare }
    }

    static let currentFormat = 1

    public var format = TuningFile.currentFormat
    public var machine: MachineKey
    public var choices: [String: Choice] = [:]

    init(machine: MachineKey) { self.machine = machine }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The file's choices if it is a tuning file of this format for `machine`; otherwise why not.
    static func decode(_ data: Data, expecting machine: MachineKey) -> Result<TuningFile, TuningFileRejection> {
        guard let file = try? JSONDecoder().decode(TuningFile.self, from: data) else {
            return .failure(TuningFileRejection("not a tuning file"))
        }
        guard file.format == currentFormat else {
            return .failure(TuningFileRejection("format \(file.format), expected \(currentFormat)"))
        }
        guard file.machine == machine else {
            return .failure(TuningFileRejection("recorded on another machine (\(file.machine.summary))"))
        }
        return .success(file)
    }
}

public struct TuningFileRejection: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What makes one machine's winners invalid on another: the CPU, its vector units, the cores the
/// process may use, the libraries loaded and the build of ZFlow's own kernels.
public struct MachineKey: Codable, Equatable, Sendable {
    public var cpu: String
    public var flags: String
    public var cores: Int
    public var blas: String
    public var onednn: String
    public var ownKernels: String
    /// Bumped when a kernel changes enough to change which candidate wins.
    public var kernelRevision: Int

    /// 3: Winograd from 16 x 16 outputs (32 x 32 before). 4: exp and erf in fused multiply-adds
    /// (ZFlow's own softmax and activations 1.2-2x faster, enough to change some winners).
    /// 5: the own Winograd shares its 16 products out between the cores (10-15% faster on the
    /// VAE's convolutions on a Zen 5). 6: splits run on `WorkerPool`'s awake threads (a split
    /// starts in about a microsecond instead of Dispatch's 20-40 us: short own kernels gain).
    /// 7: the own GEMM packs B a panel at a time for a few rows of A, transposing in registers
    /// (CLIP's 77-token products 15-40% faster). 8: from 16 x 16 outputs, the own convolution's
    /// Winograd or im2col is chosen by timing (Winograd always, before).
    static let kernelRevision = 8

    public static let current: MachineKey = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let fields = info.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 1) }
        func field(_ name: String) -> String {
            fields.first { $0.count == 2 && $0[0].trimmingCharacters(in: .whitespaces) == name }
                .map { $0[1].trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        // Hypervisors often report only "AMD EPYC" as the model name, for Zen 1 and Zen 4 alike.
        let cpu = "\(field("model name")) (family \(field("cpu family")), model \(field("model")), stepping \(field("stepping")))"
        return MachineKey(cpu: cpu, flags: field("flags"), cores: ProcessInfo.processInfo.activeProcessorCount,
                          blas: String(cString: zflow_blas_description()), onednn: String(cString: zflow_dnnl_description()),
                          ownKernels: ownKernelWidth, kernelRevision: kernelRevision)
    }()

    /// A short stable name for file names and cache keys (FNV-1a of the fields).
    public var digest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(cpu)|\(flags)|\(cores)|\(blas)|\(onednn)|\(ownKernels)|\(kernelRevision)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    public var summary: String { "\(cpu), \(cores) cores" }
}
