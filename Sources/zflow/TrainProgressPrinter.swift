import Foundation
import ZFlowTraining

/// One status line per step on stderr (loss, grad norm, learning rate, steps/s, ETA), and a line
/// per finished epoch and per validation.
final class TrainProgressPrinter: @unchecked Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let steps: Int
    private let start = DispatchTime.now()
    private var first: Int?

    init(steps: Int) { self.steps = steps }

    func show(_ event: TrainingEvent) {
        switch event {
        case let .step(step):
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let begun = first ?? step.step
            first = begun
            let rate = Double(step.step - begun + 1) / max(elapsed, 1e-9)
            let line = "step \(step.step)/\(steps) \(step.sample): "
                + String(format: "loss %.6f, grad-norm %.4g, lr %g, %.2f steps/s, ", step.loss, step.gradNorm, step.lr, rate)
                + "eta \(BatchProgressPrinter.duration(Double(steps - step.step) / rate))"
            write(interactive ? "\r\u{1B}[K" + line : line + "\n")
        case let .epoch(epoch):
            let executed = epoch.executed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            message(String(format: "epoch %d: %d steps in %.2f s; nodes run: ", epoch.epoch, epoch.steps, epoch.seconds)
                + (executed.isEmpty ? "none" : executed) + ", \(epoch.cached) from the cache")
        case let .validation(record):
            let m = record.metrics
            message("val at step \(record.step) (\(record.weights), \(record.samples) samples): "
                + "AP " + (m.ap.map { String(format: "%.4f", $0) } ?? "-")
                + String(format: ", IoU_FG@0.3 %.4f, mIoU@0.3 %.4f", m.foregroundIoU03, m.meanIoU03))
            if let warning = m.apWarning { message("warning: val at step \(record.step): \(warning)") }
        }
    }

    /// A line that stays, on its own line even while the step line is being redrawn.
    private func message(_ text: String) {
        write(interactive ? "\r\u{1B}[K" + text + "\n" : text + "\n")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        if interactive { write("\n") }
    }
}
