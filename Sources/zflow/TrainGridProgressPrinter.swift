import Foundation
import ZFlowTraining

/// `zflow train --grid`'s progress on stderr: a line when a point starts (or resumes), then that
/// point's steps, epochs and validations as a single run shows them.
final class TrainGridProgressPrinter: @unchecked Sendable {
    private let points: Int
    private let steps: Int
    private var current: TrainProgressPrinter?

    init(points: Int, steps: Int) {
        self.points = points
        self.steps = steps
    }

    func show(_ event: TrainingGridRunner.Event) {
        switch event {
        case let .point(point, resuming):
            current?.finish()
            current = TrainProgressPrinter(steps: steps)
            printError("point \(point.index + 1)/\(points) \(point.folder): " + (resuming ? "resuming" : "training"))
        case let .training(_, event):
            current?.show(event)
        }
    }

    func finish() {
        current?.finish()
    }
}
